// The OTP scripts against a real Redis: VerifyCode's one script (accepted and wrong code),
// SendCode's issue script followed by the append to the delivery queue's shard, and a bare PING
// through the same client for comparison (a verify should cost one round trip plus the script).
// Built, never run by ctest:
//   build/bin/redis_otp_store_benchmark [--redis_url=redis://127.0.0.1:6379] [benchmark flags]
// The URL may also come from TALLY_BENCH_REDIS_URL or TALLY_TEST_REDIS_URL. Every key lives
// under a fresh directory id (the queue is named after it too), deleted when the run ends.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/redis/redis_client.h"
#include "common/util/random.h"
#include "services/otp/delivery_job.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/otp_keys.h"
#include "services/otp/otp_manager.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/redis_otp_store.h"

namespace tally::otp {
namespace {

struct Fixture {
  std::shared_ptr<RedisClient> redis;
  std::unique_ptr<RedisOtpStore> store;
  std::unique_ptr<RedisDeliveryQueue> queue;
  std::string directory_id;
  std::string hmac_key;
};

Fixture* g_fixture = nullptr;

std::string RandomHexMac() {
  std::string bytes(32, '\0');
  CsprngRandom::Get().Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(bytes.data()), 32));
  return HexEncode(bytes);
}

// The slot of a benchmark thread's challenges (what OtpManager derives from the user and
// channel): a new code replaces the previous one of the same slot.
std::string Slot(const std::string& user) {
  return HexEncode(HmacSha256(g_fixture->hmac_key, user)).substr(0, keys::kSlotHexDigits);
}

// What SendCode would check and write for a proven SMS code, with budgets that never refuse so
// a benchmark can issue as many codes as it likes.
IssueParams Params(const std::string& user, const std::string& challenge_id,
                   const std::string& mac, int max_attempts) {
  const absl::Time now = absl::Now();
  IssueParams p;
  p.directory_id = g_fixture->directory_id;
  p.now = now;
  p.member = challenge_id;
  p.windows.push_back({Budget::kDestination, absl::StrCat("tag-", user), 1'000'000'000,
                       absl::ZeroDuration()});
  p.day.cap = 1'000'000'000;
  p.day.day = absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone());
  p.day.end = now + absl::Hours(24);
  p.day.count = true;
  ChallengeWrite challenge;
  challenge.challenge_id = challenge_id;
  challenge.user_id = user;
  challenge.channel = pb::CHANNEL_SMS;
  challenge.destination = "+31612345678";
  challenge.code_mac_hex = mac;
  challenge.max_attempts = max_attempts;
  challenge.code_ttl = absl::Minutes(5);
  p.challenge = std::move(challenge);
  return p;
}

// A delivery job of the real size (a sealed SMS), as SendCode appends it after the issue.
JobFields Job(const std::string& challenge_id) {
  const absl::Time now = absl::Now();
  DeliveryJob job;
  job.directory_id = g_fixture->directory_id;
  job.challenge_id = challenge_id;
  job.channel = pb::CHANNEL_SMS;
  job.expire_time = now + absl::Minutes(5);
  job.enqueue_time = now;
  job.masked_destination = "+3161*****78";
  job.sealed = std::string(160, 'A');
  return JobToFields(job);
}

std::string ThreadUser(const benchmark::State& state, absl::string_view what) {
  return absl::StrCat("user-", what, "-", state.thread_index());
}

void BM_RedisPing(benchmark::State& state) {
  for (auto _ : state) {
    if (absl::Status s = g_fixture->redis->Ping(); !s.ok()) {
      state.SkipWithError("PING failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RedisPing)->UseRealTime()->Threads(1)->Threads(4);

// VerifyCode with the right code: the script reads the challenge, compares and deletes it. A
// fresh challenge is issued (untimed) before each attempt.
void BM_VerifyAccepted(benchmark::State& state) {
  RandomSource& random = CsprngRandom::Get();
  const std::string user = ThreadUser(state, "accepted");
  for (auto _ : state) {
    state.PauseTiming();
    const std::string challenge_id = keys::NewChallengeId(random, Slot(user));
    const std::string code = GenerateCode(random);
    const std::string mac = OtpManager::CodeMac(g_fixture->hmac_key, challenge_id, code);
    absl::StatusOr<IssueResult> issued = g_fixture->store->Issue(Params(user, challenge_id, mac, 5));
    if (!issued.ok() || !issued->issued) {
      state.SkipWithError("issue failed");
      break;
    }
    state.ResumeTiming();
    // What VerifyCode does per attempt: the MAC of the submitted code, then the script.
    absl::StatusOr<VerifyOutcome> outcome = g_fixture->store->Verify(
        g_fixture->directory_id, challenge_id,
        OtpManager::CodeMac(g_fixture->hmac_key, challenge_id, code), absl::Now());
    if (!outcome.ok() || outcome->result != pb::VERIFY_RESULT_ACCEPTED) {
      state.SkipWithError("verify did not accept");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyAccepted)->UseRealTime()->Threads(1)->Threads(4);

// VerifyCode with a wrong code: the script also writes the decremented attempt counter. The
// challenge allows more attempts than any run makes.
void BM_VerifyWrongCode(benchmark::State& state) {
  RandomSource& random = CsprngRandom::Get();
  const std::string user = ThreadUser(state, "wrong");
  const std::string challenge_id = keys::NewChallengeId(random, Slot(user));
  absl::StatusOr<IssueResult> issued = g_fixture->store->Issue(
      Params(user, challenge_id, RandomHexMac(), 2'000'000'000));
  if (!issued.ok() || !issued->issued) {
    state.SkipWithError("issue failed");
    return;
  }
  const std::string wrong = RandomHexMac();
  for (auto _ : state) {
    absl::StatusOr<VerifyOutcome> outcome =
        g_fixture->store->Verify(g_fixture->directory_id, challenge_id, wrong, absl::Now());
    if (!outcome.ok() || outcome->result != pb::VERIFY_RESULT_WRONG_CODE) {
      state.SkipWithError("verify did not answer wrong_code");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyWrongCode)->UseRealTime()->Threads(1)->Threads(4);

// VerifyCode for a challenge that does not exist (expired and gone).
void BM_VerifyUnknownChallenge(benchmark::State& state) {
  const std::string challenge_id =
      keys::NewChallengeId(CsprngRandom::Get(), Slot("user-unknown"));
  const std::string mac = RandomHexMac();
  for (auto _ : state) {
    absl::StatusOr<VerifyOutcome> outcome =
        g_fixture->store->Verify(g_fixture->directory_id, challenge_id, mac, absl::Now());
    if (!outcome.ok() || outcome->result != pb::VERIFY_RESULT_EXPIRED) {
      state.SkipWithError("verify did not answer expired");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyUnknownChallenge)->UseRealTime();

// SendCode's two round trips: the issue script (budget checks and counts, the challenge in its
// slot), then the delivery job appended to the directory's shard of the queue.
void BM_Issue(benchmark::State& state) {
  RandomSource& random = CsprngRandom::Get();
  const std::string user = ThreadUser(state, "issue");
  for (auto _ : state) {
    const std::string challenge_id = keys::NewChallengeId(random, Slot(user));
    absl::StatusOr<IssueResult> issued =
        g_fixture->store->Issue(Params(user, challenge_id, RandomHexMac(), 5));
    if (!issued.ok() || !issued->issued) {
      state.SkipWithError("issue failed");
      break;
    }
    if (!g_fixture->queue->Enqueue(g_fixture->directory_id, Job(challenge_id)).ok()) {
      state.SkipWithError("enqueue failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Issue)->UseRealTime()->Threads(1)->Threads(4);

// Deletes every key of the benchmark's directory (challenges, budgets) and of its queue's
// shards ({<directory>-<shard>}).
absl::Status CleanUp(RedisClient& redis, const std::string& directory_id) {
  std::string cursor = "0";
  const std::string pattern = absl::StrCat("{", directory_id, "[-}]*");
  do {
    absl::StatusOr<RedisReply> reply =
        redis.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!reply.ok()) return reply.status();
    if (!reply->IsArray() || reply->elements().size() != 2) {
      return absl::InternalError("unexpected SCAN reply");
    }
    cursor = reply->elements()[0].str();
    std::vector<std::string> del = {"DEL"};
    for (const RedisReply& key : reply->elements()[1].elements()) del.push_back(key.str());
    if (del.size() > 1) {
      if (absl::StatusOr<RedisReply> r = redis.Command(del); !r.ok()) return r.status();
    }
  } while (cursor != "0");
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string url;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--redis_url=")) {
      url = std::string(arg.substr(sizeof("--redis_url=") - 1));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  for (const char* name : {"TALLY_BENCH_REDIS_URL", "TALLY_TEST_REDIS_URL"}) {
    if (url.empty() && std::getenv(name) != nullptr) url = std::getenv(name);
  }
  if (url.empty()) {
    std::fprintf(stderr,
                 "redis_otp_store_benchmark needs a Redis: pass --redis_url=redis://HOST:PORT or "
                 "set TALLY_BENCH_REDIS_URL (or TALLY_TEST_REDIS_URL)\n");
    return 2;
  }
  absl::StatusOr<RedisOptions> options = ParseRedisUrl(url);
  if (!options.ok()) {
    std::fprintf(stderr, "bad Redis URL: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  options->pool_size = 16;
  auto redis = std::make_shared<RedisClient>(*options);
  if (absl::Status s = redis->Ping(); !s.ok()) {
    std::fprintf(stderr, "Redis does not answer: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  Fixture fixture;
  fixture.redis = redis;
  fixture.directory_id = NewId(CsprngRandom::Get(), "bench_");
  fixture.store = std::make_unique<RedisOtpStore>(redis);
  // The queue is named after the directory so the clean-up finds its shards.
  QueueNames names;
  names.queue = fixture.directory_id;
  fixture.queue = std::make_unique<RedisDeliveryQueue>(redis, names);
  fixture.hmac_key = std::string(32, '\x5a');
  g_fixture = &fixture;

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  g_fixture = nullptr;
  if (absl::Status s = CleanUp(*redis, fixture.directory_id); !s.ok()) {
    std::fprintf(stderr, "could not delete the benchmark's keys: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tally::otp

int main(int argc, char** argv) { return tally::otp::Main(argc, argv); }
