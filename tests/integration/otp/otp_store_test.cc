// OtpManager with the real Redis scripts (RedisOtpStore, RedisDeliveryQueue) of `tools/dev test`
// and a fake clock: every rule that Redis enforces (single use, attempts, expiry, resend, the
// send budgets before and after proof, notices, the 16-way race, the sharded delivery queue)
// without sleeping. Each test uses its own directory id and queue.

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/redis/redis_client.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_support.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/otp/delivery_job.h"
#include "common/status/error_details.h"
#include "services/otp/otp_keys.h"
#include "services/otp/otp_manager.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/redis_otp_store.h"
#include "services/otp/test_fakes.h"

namespace tally::otp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tally::testing::FakeClock;

class OtpStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto options = ParseRedisUrl(tally::testing::RequiredEnv("TALLY_TEST_REDIS_URL"));
    ASSERT_TRUE(options.ok()) << options.status();
    options->pool_size = 20;
    redis_ = std::make_shared<RedisClient>(*options);
    const std::string suffix = tally::testing::UniqueSuffix();
    dir_ = "dir_" + suffix;
    names_.queue = "otp-it-" + suffix;
    names_.shards = 4;
    store_ = std::make_unique<RedisOtpStore>(redis_);
    queue_ = std::make_unique<RedisDeliveryQueue>(redis_, names_);
    config_.hmac_key = std::string(32, 'h');
    config_.job_key = std::string(32, 'j');
    // Close to real time, so the Redis TTL safety net never fires first.
    clock_.Set(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())));
  }
  void TearDown() override {
    if (redis_) {
      for (int shard = 0; shard < names_.shards; ++shard) {
        auto ignored = redis_->Command(
            {"DEL", keys::Deliveries(names_.queue, shard), keys::Dead(names_.queue, shard)});
        (void)ignored;
      }
    }
  }

  OtpManager Manager() {
    return OtpManager(*store_, *queue_, clock_, CsprngRandom::Get(), config_, nullptr);
  }

  // A code for a login that has proven a factor (the normal caps), or not yet (`proven` false:
  // the budgets before proof, from `client_ip`).
  absl::StatusOr<pb::SendCodeResponse> Send(OtpManager& m, pb::Channel channel,
                                            const std::string& destination,
                                            const std::string& user = "usr_1",
                                            bool proven = true, const std::string& client_ip = "",
                                            const std::string& dir = "") {
    pb::SendCodeRequest r;
    r.set_directory_id(dir.empty() ? dir_ : dir);
    r.set_user_id(user);
    r.set_channel(channel);
    r.set_destination(destination);
    r.set_proven(proven);
    r.set_client_ip(client_ip);
    return m.SendCode(Caller::Anonymous(), r);
  }

  // A send to nobody (SendCodeRequest.no_recipient), as the orchestrator makes for an unknown
  // username.
  absl::StatusOr<pb::SendCodeResponse> SendToNobody(OtpManager& m, pb::Channel channel,
                                                    const std::string& key, bool proven = true,
                                                    const std::string& client_ip = "") {
    pb::SendCodeRequest r;
    r.set_directory_id(dir_);
    r.set_channel(channel);
    r.set_no_recipient(true);
    r.set_no_recipient_key(key);
    r.set_proven(proven);
    r.set_client_ip(client_ip);
    return m.SendCode(Caller::Anonymous(), r);
  }

  // The delivery stream of the test directory's shard.
  std::string Stream() const {
    return keys::Deliveries(names_.queue, keys::ShardOf(dir_, names_.shards));
  }
  std::string ChallengeKey(const std::string& challenge) const {
    return keys::Challenge(dir_, keys::ChallengeSlot(challenge).value_or("none"));
  }

  // Jobs ever appended to the delivery streams (none is consumed in these tests).
  int64_t Jobs() {
    int64_t jobs = 0;
    for (int shard = 0; shard < names_.shards; ++shard) {
      jobs += redis_->Command({"XLEN", keys::Deliveries(names_.queue, shard)})->integer();
    }
    return jobs;
  }

  pb::VerifyCodeResponse Verify(OtpManager& m, const std::string& challenge,
                                const std::string& code) {
    pb::VerifyCodeRequest r;
    r.set_directory_id(dir_);
    r.set_challenge_id(challenge);
    r.set_code(code);
    auto response = m.VerifyCode(Caller::Anonymous(), r);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : pb::VerifyCodeResponse();
  }

  // The code of a challenge, read back from its (encrypted) job in the stream.
  std::string CodeOf(const std::string& challenge) {
    auto reply = redis_->Command({"XRANGE", Stream(), "-", "+"});
    EXPECT_TRUE(reply.ok());
    for (const RedisReply& entry : reply->elements()) {
      std::vector<std::pair<std::string, std::string>> fields;
      const auto& kv = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) fields.emplace_back(kv[i].str(), kv[i + 1].str());
      auto job = JobFromFields(fields);
      if (!job.ok() || job->challenge_id != challenge) continue;
      auto message = OpenMessage(config_.job_key, *job);
      EXPECT_TRUE(message.ok());
      std::smatch m;
      if (std::regex_search(message->text, m, std::regex("[0-9]{6}"))) return m.str();
    }
    ADD_FAILURE() << "no job for " << challenge;
    return "";
  }

  static std::string Wrong(const std::string& code) {
    return code == "000000" ? "000001" : "000000";
  }

  std::shared_ptr<RedisClient> redis_;
  std::string dir_;
  QueueNames names_;
  std::unique_ptr<RedisOtpStore> store_;
  std::unique_ptr<RedisDeliveryQueue> queue_;
  OtpConfig config_;
  FakeClock clock_;
};

TEST_F(OtpStoreTest, RightCodeIsAcceptedOnceAndOnlyItsMacIsStored) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok()) << sent.status();
  const std::string code = CodeOf(sent->challenge_id());
  // Nothing in Redis holds the code in clear: not the challenge, not the job.
  auto challenge = redis_->Command({"HGETALL", ChallengeKey(sent->challenge_id())});
  ASSERT_TRUE(challenge.ok());
  ASSERT_FALSE(challenge->elements().empty());
  for (const auto& e : challenge->elements()) EXPECT_THAT(e.str(), Not(HasSubstr(code)));
  auto jobs = redis_->Command({"XRANGE", Stream(), "-", "+"});
  ASSERT_EQ(jobs->elements().size(), 1u);
  for (const auto& e : jobs->elements()[0].elements()[1].elements()) {
    EXPECT_THAT(e.str(), Not(HasSubstr(code)));
  }

  auto ok = Verify(m, sent->challenge_id(), code);
  EXPECT_EQ(ok.result(), pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_EQ(ok.user_id(), "usr_1");
  EXPECT_EQ(ok.channel(), pb::CHANNEL_SMS);
  EXPECT_EQ(ok.attempts_left(), 0);
  auto again = Verify(m, sent->challenge_id(), code);
  EXPECT_EQ(again.result(), pb::VERIFY_RESULT_EXPIRED);
  EXPECT_EQ(again.user_id(), "");
  EXPECT_EQ(Verify(m, "otp_unknown", code).result(), pb::VERIFY_RESULT_EXPIRED);
}

TEST_F(OtpStoreTest, AChallengeOfAnotherDirectoryIsUnknown) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  pb::VerifyCodeRequest r;
  r.set_directory_id(dir_ + "x");
  r.set_challenge_id(sent->challenge_id());
  r.set_code(code);
  EXPECT_EQ(m.VerifyCode(Caller::Anonymous(), r)->result(), pb::VERIFY_RESULT_EXPIRED);
  EXPECT_EQ(Verify(m, sent->challenge_id(), code).result(), pb::VERIFY_RESULT_ACCEPTED);
}

TEST_F(OtpStoreTest, WrongCodesCountDownThenTheChallengeIsDead) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_EMAIL, "alice@example.org");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  for (int left = 4; left >= 1; --left) {
    auto r = Verify(m, sent->challenge_id(), Wrong(code));
    EXPECT_EQ(r.result(), pb::VERIFY_RESULT_WRONG_CODE);
    EXPECT_EQ(r.attempts_left(), left);
    EXPECT_EQ(r.channel(), pb::CHANNEL_EMAIL);
  }
  auto last = Verify(m, sent->challenge_id(), Wrong(code));
  EXPECT_EQ(last.result(), pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
  EXPECT_EQ(last.attempts_left(), 0);
  // Dead: even the right code is refused now.
  auto right = Verify(m, sent->challenge_id(), code);
  EXPECT_EQ(right.result(), pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
  EXPECT_EQ(right.user_id(), "usr_1");
}

TEST_F(OtpStoreTest, RightCodeAfterWrongOnesWithinTheLimitIsAccepted) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  for (int i = 0; i < 4; ++i) Verify(m, sent->challenge_id(), Wrong(code));
  EXPECT_EQ(Verify(m, sent->challenge_id(), code).result(), pb::VERIFY_RESULT_ACCEPTED);
}

TEST_F(OtpStoreTest, CodesExpireByTheInjectedClock) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  clock_.Advance(absl::Minutes(5) - absl::Milliseconds(1));
  EXPECT_EQ(Verify(m, sent->challenge_id(), Wrong(code)).result(),
            pb::VERIFY_RESULT_WRONG_CODE);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Verify(m, sent->challenge_id(), code).result(), pb::VERIFY_RESULT_EXPIRED);
}

TEST_F(OtpStoreTest, AResendReplacesThePreviousCodeOfThatUserAndChannel) {
  OtpManager m = Manager();
  auto first = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(first.ok());
  auto email = Send(m, pb::CHANNEL_EMAIL, "alice@example.org");
  ASSERT_TRUE(email.ok());
  const std::string first_code = CodeOf(first->challenge_id());
  clock_.Advance(absl::Seconds(30));
  auto second = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Verify(m, first->challenge_id(), first_code).result(), pb::VERIFY_RESULT_EXPIRED);
  // The other channel's challenge is untouched.
  EXPECT_EQ(Verify(m, email->challenge_id(), CodeOf(email->challenge_id())).result(),
            pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_EQ(Verify(m, second->challenge_id(), CodeOf(second->challenge_id())).result(),
            pb::VERIFY_RESULT_ACCEPTED);
}

TEST_F(OtpStoreTest, CooldownRefusesWithTheRemainingDelayAndSendsNothing) {
  OtpManager m = Manager();
  ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345678").ok());
  clock_.Advance(absl::Seconds(12));
  auto refused = Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("retry in 18s"));
  EXPECT_EQ(Jobs(), 1);
  // Another destination is not affected; the same one is once the cooldown is over.
  EXPECT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345679", "usr_2").ok());
  clock_.Advance(absl::Seconds(18));
  EXPECT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_2").ok());
  EXPECT_EQ(Jobs(), 3);
}

TEST_F(OtpStoreTest, FiveSendsPerDestinationPerSlidingHour) {
  OtpManager m = Manager();
  const absl::Time first = clock_.Now();
  for (int i = 0; i < 5; ++i) {
    auto sent = Send(m, pb::CHANNEL_EMAIL, "Bob@example.org");
    ASSERT_TRUE(sent.ok()) << i;
    // resend_after announces the cap once it is reached.
    EXPECT_EQ(FromProtoTime(sent->resend_after()),
              i < 4 ? clock_.Now() + absl::Seconds(30) : first + absl::Hours(1));
    clock_.Advance(absl::Minutes(1));
  }
  auto refused = Send(m, pb::CHANNEL_EMAIL, "bob@EXAMPLE.org");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  // The first send was 5 minutes ago: it leaves the window in 55 minutes.
  EXPECT_THAT(refused.status().message(), HasSubstr("last hour; retry in 3300s"));
  clock_.Advance(absl::Minutes(55));
  EXPECT_TRUE(Send(m, pb::CHANNEL_EMAIL, "bob@example.org").ok());
  EXPECT_EQ(Send(m, pb::CHANNEL_EMAIL, "bob@example.org").status().code(),
            absl::StatusCode::kResourceExhausted);  // cooldown again
}

TEST_F(OtpStoreTest, DirectoryDailyCapUntilMidnightUtc) {
  config_.directory_daily_cap = 3;
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 29, 22, 0, 0), absl::UTCTimeZone()));
  OtpManager m = Manager();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, absl::StrCat("+3161234567", i), absl::StrCat("u", i)).ok());
  }
  auto refused = Send(m, pb::CHANNEL_SMS, "+31612345679", "u9");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("directory today; retry in 7200s"));
  clock_.Advance(absl::Hours(2));
  EXPECT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345679", "u9").ok());
}

TEST_F(OtpStoreTest, CodesToNobodyAreThrottledLikeRealOnesAndNeverQueued) {
  config_.destination_hourly_cap = 3;
  OtpManager m = Manager();
  const absl::Time start = clock_.Now();
  auto send = [&](const std::string& key, pb::Channel channel, absl::Duration at) {
    clock_.Set(start + at);
    return SendToNobody(m, channel, key);
  };
  auto first = send("n:bob", pb::CHANNEL_SMS, absl::ZeroDuration());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(FromProtoTime(first->resend_after()), start + absl::Seconds(30));
  EXPECT_EQ(FromProtoTime(first->expire_time()), start + absl::Minutes(5));
  EXPECT_EQ(first->masked_destination(), "");
  // The service's own cooldown and words.
  auto early = send("n:bob", pb::CHANNEL_SMS, absl::Seconds(10));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(early.status().message(), "a code was just sent to this destination; retry in 20s");
  EXPECT_TRUE(send("n:bob", pb::CHANNEL_EMAIL, absl::Seconds(10)).ok());  // its own window
  EXPECT_TRUE(send("n:eve", pb::CHANNEL_SMS, absl::Seconds(10)).ok());
  EXPECT_TRUE(send("n:bob", pb::CHANNEL_SMS, absl::Seconds(30)).ok());
  // The third send in the hour reaches the cap: the next one waits for the first to age out.
  auto third = send("n:bob", pb::CHANNEL_SMS, absl::Seconds(60));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(FromProtoTime(third->resend_after()), start + absl::Hours(1));
  auto capped = send("n:bob", pb::CHANNEL_SMS, absl::Seconds(600));
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(capped.status().message(),
            "too many codes sent to this destination in the last hour; retry in 3000s");
  EXPECT_TRUE(send("n:bob", pb::CHANNEL_SMS, absl::Hours(1)).ok());

  // Nothing was queued for delivery, and no key names the user.
  EXPECT_EQ(Jobs(), 0);
  auto keys = redis_->Command({"KEYS", absl::StrCat("{", dir_, "}*")});
  ASSERT_TRUE(keys.ok());
  EXPECT_FALSE(keys->elements().empty());
  for (const RedisReply& key : keys->elements()) EXPECT_THAT(key.str(), Not(HasSubstr("bob")));
}

TEST_F(OtpStoreTest, ACodeToNobodyCountsAttemptsAndIsNeverAccepted) {
  OtpManager m = Manager();
  auto sent = SendToNobody(m, pb::CHANNEL_SMS, "n:bob");
  ASSERT_TRUE(sent.ok()) << sent.status();
  // What a real challenge answers to wrong codes, whatever the code.
  for (int left = 4; left >= 1; --left) {
    pb::VerifyCodeResponse r = Verify(m, sent->challenge_id(), absl::StrCat(left, "23456"));
    EXPECT_EQ(r.result(), pb::VERIFY_RESULT_WRONG_CODE);
    EXPECT_EQ(r.attempts_left(), left);
    EXPECT_EQ(r.channel(), pb::CHANNEL_SMS);
    EXPECT_EQ(r.user_id(), "");
  }
  EXPECT_EQ(Verify(m, sent->challenge_id(), "000000").result(),
            pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
  EXPECT_EQ(Verify(m, sent->challenge_id(), "000000").result(),
            pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);

  // Its challenge holds no MAC a code could have; a resend replaces it; it expires by the clock.
  clock_.Advance(absl::Seconds(30));
  auto second = SendToNobody(m, pb::CHANNEL_SMS, "n:bob");
  ASSERT_TRUE(second.ok()) << second.status();
  auto mac = redis_->Command({"HGET", ChallengeKey(second->challenge_id()), "mac"});
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->str(), "none");
  EXPECT_EQ(Verify(m, sent->challenge_id(), "000000").result(), pb::VERIFY_RESULT_EXPIRED);
  for (const char* code : {"0", "123456", "999999", "0000000000000000"}) {
    EXPECT_EQ(Verify(m, second->challenge_id(), code).result(), pb::VERIFY_RESULT_WRONG_CODE)
        << code;
  }
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(Verify(m, second->challenge_id(), "123456").result(), pb::VERIFY_RESULT_EXPIRED);
  EXPECT_EQ(Jobs(), 0);
}

TEST_F(OtpStoreTest, ADirectoryAtItsDailyCapRefusesCodesToNobodyWithoutCountingThem) {
  config_.directory_daily_cap = 2;
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 29, 22, 0, 0), absl::UTCTimeZone()));
  OtpManager m = Manager();
  // Sends to nobody cost nothing: the day's two real sends are still there after them.
  ASSERT_TRUE(SendToNobody(m, pb::CHANNEL_SMS, "n:a").ok());
  ASSERT_TRUE(SendToNobody(m, pb::CHANNEL_SMS, "n:b").ok());
  ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345670", "u0").ok());
  // The send that reaches the cap announces it, to nobody as to a user.
  auto last = SendToNobody(m, pb::CHANNEL_SMS, "n:c");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(FromProtoTime(last->resend_after()), clock_.Now() + absl::Hours(2));
  ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345671", "u1").ok());
  // At the cap a send to nobody is refused as a real one is.
  auto refused = Send(m, pb::CHANNEL_SMS, "+31612345672", "u2");
  auto nobody = SendToNobody(m, pb::CHANNEL_SMS, "n:d");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(nobody.status().message(), refused.status().message());
  EXPECT_THAT(nobody.status().message(), HasSubstr("directory today; retry in 7200s"));
  EXPECT_EQ(Jobs(), 2);
}

TEST_F(OtpStoreTest, SixteenParallelVerifiesOfTheRightCodeAcceptExactlyOnce) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  std::atomic<int> accepted{0}, expired{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      auto r = Verify(m, sent->challenge_id(), code);
      if (r.result() == pb::VERIFY_RESULT_ACCEPTED) ++accepted;
      else if (r.result() == pb::VERIFY_RESULT_EXPIRED) ++expired;
      else ++other;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(expired.load(), 15);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(OtpStoreTest, ParallelWrongGuessesNeverGetPastTheAttemptLimit) {
  OtpManager m = Manager();
  auto sent = Send(m, pb::CHANNEL_SMS, "+31612345678");
  ASSERT_TRUE(sent.ok());
  const std::string code = CodeOf(sent->challenge_id());
  std::atomic<int> wrong{0}, too_many{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto r = Verify(m, sent->challenge_id(), Wrong(code));
      if (r.result() == pb::VERIFY_RESULT_WRONG_CODE) ++wrong;
      if (r.result() == pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS) ++too_many;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 4);
  EXPECT_EQ(too_many.load(), 12);
  EXPECT_EQ(Verify(m, sent->challenge_id(), code).result(), pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);
}

TEST_F(OtpStoreTest, ParallelSendsNeverSqueezeUnderTheCaps) {
  config_.cooldown = absl::ZeroDuration();
  OtpManager m = Manager();
  std::atomic<int> ok{0}, exhausted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      auto r = Send(m, pb::CHANNEL_SMS, "+31612345678", absl::StrCat("usr_", i));
      if (r.ok()) ++ok;
      if (r.status().code() == absl::StatusCode::kResourceExhausted) ++exhausted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(exhausted.load(), 7);
  EXPECT_EQ(Jobs(), 5);
}

TEST_F(OtpStoreTest, DeliveryQueueHandsOutClaimsBuriesAndPrunes) {
  ASSERT_TRUE(queue_->EnsureGroups().ok());
  ASSERT_TRUE(queue_->EnsureGroups().ok());  // idempotent
  const int shard = keys::ShardOf(dir_, names_.shards);
  OtpManager m = Manager();
  auto first = Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1");
  auto second = Send(m, pb::CHANNEL_SMS, "+31612345679", "usr_2");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string first_code = CodeOf(first->challenge_id());
  auto a = queue_->Read(shard, "a-0", 1, absl::Milliseconds(10));
  auto b = queue_->Read(shard, "b-0", 1, absl::Milliseconds(10));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 1u);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_TRUE(queue_->Read(shard, "c-0", 1, absl::Milliseconds(10))->empty());
  // Without blocking too.
  EXPECT_TRUE(queue_->Read(shard, "c-0", 1, absl::ZeroDuration())->empty());
  const QueuedJob job_a = (*a)[0], job_b = (*b)[0];
  EXPECT_EQ(job_a.shard, shard);
  EXPECT_EQ(*queue_->Touch(job_a, "a-0"), 1);
  EXPECT_EQ(*queue_->Touch(job_a, "b-0"), 0);  // not b's

  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->backlog, 2);
  EXPECT_EQ(stats->pending, 2);

  // Nothing is idle long enough yet; then b's job is taken over by c.
  EXPECT_TRUE(queue_->Claim(shard, "c-0", absl::Seconds(30), 10)->empty());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(*queue_->Touch(job_a, "a-0"), 1);  // a is alive: keeps its job
  EXPECT_TRUE(queue_->Claim((shard + 1) % names_.shards, "c-0", absl::Milliseconds(40), 10)
                  ->empty());  // another shard
  auto claimed = queue_->Claim(shard, "c-0", absl::Milliseconds(40), 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, job_b.id);
  EXPECT_EQ((*claimed)[0].shard, shard);
  EXPECT_EQ(*queue_->Touch(job_b, "b-0"), 0);  // b lost it
  EXPECT_EQ(*queue_->Touch(job_b, "c-0"), 2);  // handed out twice

  ASSERT_TRUE(queue_->Ack(job_a).ok());
  DeadLetter letter;
  letter.directory_id = dir_;
  letter.challenge_id = second->challenge_id();
  letter.channel = "sms";
  letter.masked_destination = "+31*******79";
  letter.provider = "http";
  letter.reason = "permanent: HTTP 400";
  letter.attempts = 1;
  letter.time = absl::FromUnixSeconds(1798000000);
  ASSERT_TRUE(queue_->Bury(job_b, letter).ok());
  ASSERT_TRUE(queue_->Bury(job_b, letter).ok());  // already gone: buried once
  stats = queue_->Stats();
  EXPECT_EQ(stats->backlog, 0);
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->dead, 1);
  auto page = queue_->ListDead(10, "");
  ASSERT_TRUE(page.ok());
  const std::vector<DeadLetter>& dead = page->letters;
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(page->next_page_token, "");
  EXPECT_EQ(dead[0].job_id, job_b.id);
  EXPECT_EQ(dead[0].reason, "permanent: HTTP 400");
  EXPECT_EQ(dead[0].attempts, 1);
  EXPECT_EQ(dead[0].time, letter.time);
  EXPECT_EQ(dead[0].masked_destination, "+31*******79");
  EXPECT_EQ(redis_->Command({"XLEN", keys::Dead(names_.queue, shard)})->integer(), 1);

  // The challenge of a replaced or used code is no longer live.
  EXPECT_TRUE(*queue_->ChallengeLive(dir_, first->challenge_id()));
  EXPECT_EQ(Verify(m, first->challenge_id(), first_code).result(), pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_FALSE(*queue_->ChallengeLive(dir_, first->challenge_id()));

  // Consumers with nothing pending and idle long enough are removed; one with a job is kept.
  auto third = Send(m, pb::CHANNEL_SMS, "+31612345670", "usr_3");
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(queue_->Read(shard, "d-0", 1, absl::Milliseconds(10))->size(), 1u);
  absl::SleepFor(absl::Milliseconds(30));
  auto pruned = queue_->PruneConsumers(absl::Milliseconds(20));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);  // a, b, c
  auto consumers = redis_->Command({"XINFO", "CONSUMERS", Stream(), names_.group});
  ASSERT_TRUE(consumers.ok());
  ASSERT_EQ(consumers->elements().size(), 1u);
  EXPECT_EQ(consumers->elements()[0].elements()[1].str(), "d-0");
}

// One Redis node: a sender's idle worker waits on every shard in one blocking read, and is
// handed the jobs of any shard, each with the shard it came from.
TEST_F(OtpStoreTest, OnOneNodeTheDeliveryQueueReadsEveryShardAtOnce) {
  ASSERT_TRUE(queue_->EnsureGroups().ok());
  ASSERT_TRUE(queue_->ReadsEveryShard());
  std::string other_dir;
  for (int n = 0; other_dir.empty() || keys::ShardOf(other_dir, names_.shards) ==
                                           keys::ShardOf(dir_, names_.shards);
       ++n) {
    other_dir = absl::StrCat(dir_, "_", n);
  }
  OtpManager m = Manager();
  ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1").ok());
  ASSERT_TRUE(
      Send(m, pb::CHANNEL_SMS, "+31612345679", "usr_2", true, "", other_dir).ok());
  auto jobs = queue_->ReadEvery("e-0", 1, absl::Milliseconds(10));
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  std::set<int> shards;
  for (const QueuedJob& job : *jobs) {
    shards.insert(job.shard);
    EXPECT_EQ(*queue_->Touch(job, "e-0"), 1);  // its shard's entry, owned by the reader
  }
  EXPECT_EQ(shards, (std::set<int>{keys::ShardOf(dir_, names_.shards),
                                   keys::ShardOf(other_dir, names_.shards)}));
  EXPECT_TRUE(queue_->ReadEvery("f-0", 1, absl::Milliseconds(10))->empty());
  EXPECT_TRUE(queue_->ReadEvery("f-0", 1, absl::ZeroDuration())->empty());
  for (const QueuedJob& job : *jobs) ASSERT_TRUE(queue_->Ack(job).ok());
  EXPECT_EQ(queue_->Stats()->backlog, 0);
}

// Before a factor is proven, codes draw from budgets of their own: someone who knows the
// username spends those, and the real user's proven sends and the directory's day stay whole.
TEST_F(OtpStoreTest, BeforeProofCodesDrawFromTheirOwnBudgetsNeverTheProvenOnes) {
  OtpManager m = Manager();
  const absl::Time start = clock_.Now();
  auto unproven = [&](absl::Duration at) {
    clock_.Set(start + at);
    return Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1", /*proven=*/false);
  };
  ASSERT_TRUE(unproven(absl::ZeroDuration()).ok());
  auto early = unproven(absl::Seconds(10));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(early.status().message(), "a code was just sent to this destination; retry in 20s");
  EXPECT_EQ(ErrorReason(early.status()), "SEND_BUDGET_EXHAUSTED");
  EXPECT_EQ(ErrorInfoOf(early.status())->metadata().at("budget"), "unproven_user");
  EXPECT_EQ(RetryDelayOf(early.status()), absl::Seconds(20));
  ASSERT_TRUE(unproven(absl::Seconds(30)).ok());
  auto third = unproven(absl::Seconds(60));
  ASSERT_TRUE(third.ok()) << third.status();
  // The third reaches the cap: the next passes when the first leaves the hour.
  EXPECT_EQ(FromProtoTime(third->resend_after()), start + absl::Hours(1));
  auto capped = unproven(absl::Seconds(90));
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(capped.status().message(),
            "too many codes for this user before sign-in in the last hour; retry in 3510s");
  EXPECT_EQ(RetryDelayOf(capped.status()), absl::Seconds(3510));
  // Nothing of it counted in the directory's day or the destination's budget.
  const std::string day = keys::DirectoryDay(
      dir_, absl::FormatTime("%Y%m%d", clock_.Now(), absl::UTCTimeZone()));
  EXPECT_TRUE(redis_->Command({"GET", day})->IsNil());
  EXPECT_EQ(Jobs(), 3);

  // The real user, once proven, gets a code at once, counted where proven codes count.
  auto proven = Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1", /*proven=*/true);
  ASSERT_TRUE(proven.ok()) << proven.status();
  EXPECT_EQ(redis_->Command({"GET", day})->str(), "1");
  EXPECT_EQ(Verify(m, proven->challenge_id(), CodeOf(proven->challenge_id())).result(),
            pb::VERIFY_RESULT_ACCEPTED);
  // Another user, or another channel, has budgets of its own.
  EXPECT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345679", "usr_2", false).ok());
  EXPECT_TRUE(Send(m, pb::CHANNEL_EMAIL, "alice@example.org", "usr_1", false).ok());
  clock_.Set(start + absl::Hours(1));
  EXPECT_TRUE(unproven(absl::Hours(1)).ok());
}

TEST_F(OtpStoreTest, BeforeProofCodesAreCappedPerClientAddressAndPerDirectory) {
  config_.cooldown = absl::ZeroDuration();
  config_.unproven_client_ip_hourly_cap = 2;
  config_.unproven_directory_hourly_cap = 4;
  OtpManager m = Manager();
  auto send = [&](const std::string& user, const std::string& ip,
                  pb::Channel channel = pb::CHANNEL_SMS) {
    return Send(m, channel,
                channel == pb::CHANNEL_SMS ? "+31612345678" : "shared@example.org", user,
                /*proven=*/false, ip);
  };
  ASSERT_TRUE(send("usr_a", "198.51.100.7").ok());
  ASSERT_TRUE(send("usr_b", "198.51.100.7").ok());
  auto address = send("usr_c", "198.51.100.7");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(address.status().message(),
              HasSubstr("too many codes from this client address before sign-in"));
  EXPECT_EQ(ErrorInfoOf(address.status())->metadata().at("budget"), "unproven_client_ip");
  EXPECT_GT(*RetryDelayOf(address.status()), absl::Minutes(59));
  // One IPv6 subscriber, one budget: its /64.
  ASSERT_TRUE(send("usr_c", "2001:db8:5:6::1").ok());
  ASSERT_TRUE(send("usr_d", "2001:db8:5:6:aaaa::2").ok());
  EXPECT_EQ(send("usr_e", "2001:db8:5:6::3").status().code(), absl::StatusCode::kResourceExhausted);
  // The directory's budget before proof: four per hour, whatever the address.
  auto directory = send("usr_e", "");
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(directory.status().message(),
              HasSubstr("too many codes in this directory before sign-in"));
  EXPECT_EQ(ErrorInfoOf(directory.status())->metadata().at("budget"), "unproven_directory");
  // E-mail has budgets of its own, and proven codes the normal caps.
  EXPECT_TRUE(send("usr_e", "198.51.100.7", pb::CHANNEL_EMAIL).ok());
  EXPECT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345670", "usr_e", /*proven=*/true).ok());
  // Seven codes out, none for a refusal.
  EXPECT_EQ(Jobs(), 6);
}

// A code for an unknown user (to nobody) meets the same budgets, gets the same answers and
// costs the same Redis round trips as a real one; only the real one has a job.
TEST_F(OtpStoreTest, AnUnknownUserMeetsTheSameBudgetsWithTheSameWork) {
  OtpManager m = Manager();
  const absl::Time start = clock_.Now();
  // The scripts are cached first, so that no NOSCRIPT retry blurs the counts.
  ASSERT_TRUE(Send(m, pb::CHANNEL_EMAIL, "warm@example.org", "usr_warm", false).ok());
  auto known = [&](absl::Duration at) {
    clock_.Set(start + at);
    return Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_known", false, "192.0.2.10");
  };
  auto unknown = [&](absl::Duration at) {
    clock_.Set(start + at);
    return SendToNobody(m, pb::CHANNEL_SMS, "n:ghost", false, "192.0.2.20");
  };
  const int64_t jobs_before = Jobs();
  for (absl::Duration at : {absl::Seconds(0), absl::Seconds(5), absl::Seconds(40),
                            absl::Seconds(80), absl::Seconds(120), absl::Seconds(200)}) {
    SCOPED_TRACE(at);
    const int64_t before_known = redis_->round_trips();
    auto k = known(at);
    const int64_t known_trips = redis_->round_trips() - before_known;
    const int64_t before_unknown = redis_->round_trips();
    auto u = unknown(at);
    const int64_t unknown_trips = redis_->round_trips() - before_unknown;
    EXPECT_EQ(known_trips, unknown_trips);
    ASSERT_EQ(k.ok(), u.ok()) << k.status() << " / " << u.status();
    if (k.ok()) {
      EXPECT_EQ(k->expire_time().seconds(), u->expire_time().seconds());
      EXPECT_EQ(k->resend_after().seconds(), u->resend_after().seconds());
    } else {
      EXPECT_EQ(k.status().message(), u.status().message());
      EXPECT_EQ(RetryDelayOf(k.status()), RetryDelayOf(u.status()));
      EXPECT_EQ(ErrorInfoOf(k.status())->metadata().at("budget"),
                ErrorInfoOf(u.status())->metadata().at("budget"));
    }
  }
  // Three codes each (0 s, 40 s, 80 s), the others refused alike; jobs only for the real one.
  EXPECT_EQ(Jobs() - jobs_before, 3);
}

TEST_F(OtpStoreTest, NoticesHaveABudgetOfTheirOwnPerDestination) {
  config_.notice_destination_hourly_cap = 2;
  OtpManager m = Manager();
  auto notice = [&](const std::string& destination, pb::NoticeKind kind) {
    pb::SendNoticeRequest r;
    r.set_directory_id(dir_);
    r.set_channel(pb::CHANNEL_EMAIL);
    r.set_destination(destination);
    r.set_kind(kind);
    return m.SendNotice(Caller::Anonymous(), r);
  };
  ASSERT_TRUE(notice("old@example.org", pb::NOTICE_CONTACT_CHANGED).ok());
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(notice("Old@Example.org", pb::NOTICE_RECOVERY_CODE_USED).ok());
  auto refused = notice("old@example.org", pb::NOTICE_DEVICE_REMEMBERED);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "too many notices sent to this destination in the last hour; retry in 3540s");
  EXPECT_EQ(ErrorInfoOf(refused.status())->metadata().at("budget"), "notice_destination");
  EXPECT_EQ(RetryDelayOf(refused.status()), absl::Seconds(3540));
  EXPECT_TRUE(notice("other@example.org", pb::NOTICE_DEVICE_REMEMBERED).ok());
  // Codes to that address are not touched by its notices.
  EXPECT_TRUE(Send(m, pb::CHANNEL_EMAIL, "old@example.org", "usr_1").ok());

  // The notices' jobs are in the directory's shard, sealed as notices, with no challenge.
  auto entries = redis_->Command({"XRANGE", Stream(), "-", "+"});
  ASSERT_TRUE(entries.ok());
  int notices = 0;
  for (const RedisReply& entry : entries->elements()) {
    std::vector<std::pair<std::string, std::string>> fields;
    const auto& kv = entry.elements()[1].elements();
    for (size_t i = 0; i + 1 < kv.size(); i += 2) fields.emplace_back(kv[i].str(), kv[i + 1].str());
    auto job = JobFromFields(fields);
    ASSERT_TRUE(job.ok());
    if (!job->notice) continue;
    ++notices;
    auto message = OpenMessage(config_.job_key, *job);
    ASSERT_TRUE(message.ok());
    EXPECT_THAT(message->subject, ::testing::AnyOf("Your contact details were changed",
                                                   "A recovery code was used",
                                                   "A device was remembered"));
    EXPECT_FALSE(*queue_->ChallengeLive(dir_, job->challenge_id));
  }
  EXPECT_EQ(notices, 3);
}

// Directories spread over the shards; every key is tagged by a directory or a shard, and none
// holds a phone number, an address, a client address or a no-recipient key.
TEST_F(OtpStoreTest, JobsGoToTheirDirectorysShardAndNoKeyNamesAPersonOrAnAddress) {
  OtpManager m = Manager();
  std::map<int, std::string> dir_of_shard;
  for (int i = 0; dir_of_shard.size() < static_cast<size_t>(names_.shards) && i < 1000; ++i) {
    const std::string dir = absl::StrCat(dir_, "x", i);
    dir_of_shard.emplace(keys::ShardOf(dir, names_.shards), dir);
  }
  ASSERT_EQ(dir_of_shard.size(), static_cast<size_t>(names_.shards));
  for (const auto& [shard, dir] : dir_of_shard) {
    ASSERT_TRUE(
        Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1", false, "198.51.100.99", dir).ok());
    ASSERT_TRUE(Send(m, pb::CHANNEL_EMAIL, "carol@example.org", "usr_1", true, "", dir).ok());
  }
  ASSERT_TRUE(SendToNobody(m, pb::CHANNEL_SMS, "n:ghost", false, "2001:db8:77::1").ok());
  for (int shard = 0; shard < names_.shards; ++shard) {
    EXPECT_EQ(redis_->Command({"XLEN", keys::Deliveries(names_.queue, shard)})->integer(), 2)
        << shard;
  }
  std::vector<std::string> keys;
  for (const std::string& pattern :
       {absl::StrCat("*", dir_, "*"), absl::StrCat("*", names_.queue, "*")}) {
    auto reply = redis_->Command({"KEYS", pattern});
    ASSERT_TRUE(reply.ok());
    for (const RedisReply& key : reply->elements()) keys.push_back(key.str());
  }
  EXPECT_GT(keys.size(), 20u);
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(absl::StartsWith(key, absl::StrCat("{", dir_)) ||
                absl::StartsWith(key, absl::StrCat("{", names_.queue, "-")));
    for (const char* secret : {"612345678", "carol", "example.org", "198.51", "2001", "ghost"}) {
      EXPECT_THAT(key, Not(HasSubstr(secret)));
    }
  }
}

// ListDeadLetters sees every shard: their dead letters merged, newest first, a page at a time.
TEST_F(OtpStoreTest, DeadLettersOfEveryShardComeNewestFirstAPageAtATime) {
  OtpManager m = Manager();
  ASSERT_TRUE(queue_->EnsureGroups().ok());
  std::vector<std::string> dirs;
  std::set<int> shards;
  for (int i = 0; dirs.size() < 7 && i < 1000; ++i) {
    const std::string dir = absl::StrCat(dir_, "d", i);
    // Every shard, some twice.
    if (shards.insert(keys::ShardOf(dir, names_.shards)).second || shards.size() == 4) {
      dirs.push_back(dir);
    }
  }
  ASSERT_EQ(dirs.size(), 7u);
  for (size_t i = 0; i < dirs.size(); ++i) {
    ASSERT_TRUE(Send(m, pb::CHANNEL_SMS, "+31612345678", "usr_1", true, "", dirs[i]).ok());
    const int shard = keys::ShardOf(dirs[i], names_.shards);
    auto jobs = queue_->Read(shard, "w-0", 1, absl::ZeroDuration());
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs->size(), 1u);
    DeadLetter letter;
    letter.directory_id = dirs[i];
    letter.channel = "sms";
    letter.reason = absl::StrCat("letter ", i);
    letter.time = clock_.Now();
    ASSERT_TRUE(queue_->Bury((*jobs)[0], letter).ok());
  }
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->dead, 7);
  EXPECT_EQ(stats->backlog, 0);

  for (int page_size : {1, 2, 3, 7, 50}) {
    SCOPED_TRACE(page_size);
    pb::ListDeadLettersRequest request;
    request.set_page_size(page_size);
    std::vector<pb::DeadLetter> seen;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = m.ListDeadLetters(Caller::Platform(), request);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_LE(page->dead_letters_size(), page_size);
      seen.insert(seen.end(), page->dead_letters().begin(), page->dead_letters().end());
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    ASSERT_EQ(seen.size(), 7u);
    std::set<std::string> reasons;
    for (size_t i = 0; i < seen.size(); ++i) {
      reasons.insert(seen[i].reason());
      if (i == 0) continue;
      // Newest first: stream ids descending, ties (one millisecond) by shard.
      auto id = [](const pb::DeadLetter& d) {
        std::pair<int64_t, int64_t> parsed;
        std::vector<std::string> parts = absl::StrSplit(d.entry_id(), '-');
        EXPECT_EQ(parts.size(), 2u);
        parsed.first = std::stoll(parts[0]);
        parsed.second = std::stoll(parts[1]);
        return parsed;
      };
      const auto previous = std::make_tuple(
          id(seen[i - 1]), -keys::ShardOf(seen[i - 1].directory_id(), names_.shards));
      const auto current =
          std::make_tuple(id(seen[i]), -keys::ShardOf(seen[i].directory_id(), names_.shards));
      EXPECT_GT(previous, current);
    }
    EXPECT_EQ(reasons.size(), 7u);
  }
  pb::ListDeadLettersRequest bad;
  bad.set_page_token("bm90LWEtdG9rZW4");
  EXPECT_EQ(m.ListDeadLetters(Caller::Platform(), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OtpStoreDownTest, RedisDownIsUnavailableAndNothingIsReportedSent) {
  RedisOptions options;
  options.port = tally::testing::FreePort();
  auto redis = std::make_shared<RedisClient>(options);
  RedisOtpStore store(redis);
  RedisDeliveryQueue queue(redis, QueueNames());
  FakeClock clock;
  OtpConfig config;
  config.hmac_key = std::string(32, 'h');
  config.job_key = std::string(32, 'j');
  OtpManager m(store, queue, clock, CsprngRandom::Get(), config, nullptr);
  pb::SendCodeRequest r;
  r.set_directory_id("dir_x");
  r.set_user_id("usr_x");
  r.set_channel(pb::CHANNEL_SMS);
  r.set_destination("+31612345678");
  EXPECT_EQ(m.SendCode(Caller::Anonymous(), r).status().code(), absl::StatusCode::kUnavailable);
  pb::VerifyCodeRequest v;
  v.set_directory_id("dir_x");
  // An id of the shape this service issues (an id of another shape is unknown without asking).
  v.set_challenge_id(keys::NewChallengeId(CsprngRandom::Get(), std::string(32, 'a')));
  v.set_code("123456");
  EXPECT_EQ(m.VerifyCode(Caller::Anonymous(), v).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tally::otp
