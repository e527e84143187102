// The real tally-otp binary (roles api, sender, all) against the real Redis of `tools/dev test`:
// codes flow through the API, the stream, senders and every provider (outbox file, a local SMTP
// server, a local HTTP SMS gateway); gRPC errors, the 16-way race, crash recovery of a sender,
// health, metrics, configuration errors and tallyctl. Each test has its own streams and
// directory ids, so tests run in parallel.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>

#include <atomic>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/redis/redis_client.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/testing/fake_gateway.h"
#include "common/testing/service_process.h"
#include "common/testing/test_support.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/otp/delivery_job.h"
#include "services/otp/otp_keys.h"
#include "tally/otp/v1/otp.grpc.pb.h"

namespace tally::otp {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// Test-only secrets (hex).
constexpr char kHmacKey[] = "7465737420686d6163206b657920666f72206f747020696e746567726174696f6e";
constexpr char kJobKeyHex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string JobKey() {
  std::string key;
  for (size_t i = 0; i < 64; i += 2) {
    key.push_back(static_cast<char>(std::stoi(std::string(kJobKeyHex + i, 2), nullptr, 16)));
  }
  return key;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
    out.push_back(nlohmann::json::parse(std::string(line)));
  }
  return out;
}

std::string CodeIn(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\\b[0-9]{6}\\b"))) return "";
  return m.str();
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool open = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return open;
}

// The aiosmtpd sink (smtp_sink.py) on 127.0.0.1:port storing into `maildir`, with `args` after
// those (TLS mode, certificate, login); returns once it accepts connections.
absl::Status StartSmtpSink(tally::testing::Subprocess& smtp, int port, const std::string& maildir,
                           const std::vector<std::string>& args = {},
                           const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {
      "/usr/bin/python3",
      absl::StrCat(tally::testing::SourceDir(), "/tests/integration/otp/smtp_sink.py"),
      absl::StrCat(port), maildir};
  argv.insert(argv.end(), args.begin(), args.end());
  if (absl::Status s = smtp.Start(argv, env); !s.ok()) return s;
  if (!tally::testing::WaitFor([&] { return PortOpen(port); }, absl::Seconds(10))) {
    return absl::UnavailableError(absl::StrCat("the SMTP sink did not start: ", smtp.Output()));
  }
  return absl::OkStatus();
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& platform_key = "") {
  return tally::testing::NewContext("", platform_key, absl::Seconds(10));
}

// Names shared by the processes of one test: the delivery queue and its group, the test's
// directory and the streams of its shard.
struct Namespace {
  std::string suffix = tally::testing::UniqueSuffix();
  std::string queue = absl::StrCat("otp-it-", suffix);
  int shards = 4;
  std::string group = absl::StrCat("senders-", suffix);
  std::string dir = absl::StrCat("dir_", suffix);
  std::string stream = keys::Deliveries(queue, keys::ShardOf(dir, shards));
  std::string dead = keys::Dead(queue, keys::ShardOf(dir, shards));

  // A directory of this test whose jobs go to `shard`.
  std::string DirOnShard(int shard) const {
    for (int i = 0;; ++i) {
      std::string d = absl::StrCat(dir, "s", i);
      if (keys::ShardOf(d, shards) == shard) return d;
    }
  }
  // Every stream of the queue.
  std::vector<std::string> Streams() const {
    std::vector<std::string> streams;
    for (int shard = 0; shard < shards; ++shard) {
      streams.push_back(keys::Deliveries(queue, shard));
      streams.push_back(keys::Dead(queue, shard));
    }
    return streams;
  }
};

// tally-otp in `role` with the test's streams and fast timings on free ports; `extra` flags come
// after the defaults.
class OtpProcess : public tally::testing::ServiceProcess {
 public:
  OtpProcess(const Namespace& ns, const std::string& redis_url,
             std::shared_ptr<const tally::testing::TestKeys> keys, const std::string& role,
             const std::vector<std::string>& extra = {},
             tally::testing::ServiceOptions::Ready ready =
                 tally::testing::ServiceOptions::Ready::kServing)
      : ServiceProcess({.binary = "tally-otp",
                        .name = absl::StrCat("tally-otp --role=", role),
                        .flags = Flags(ns, role, extra),
                        .redis_url = redis_url,
                        .keys = std::move(keys),
                        .env = {{"TALLY_OTP_HMAC_KEY", kHmacKey},
                                {"TALLY_OTP_ENCRYPTION_KEY", kJobKeyHex}},
                        .ready = ready}),
        stub_(pb::OtpService::NewStub(channel())) {}

  pb::OtpService::Stub& stub() { return *stub_; }

 private:
  static std::vector<std::string> Flags(const Namespace& ns, const std::string& role,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> flags = {absl::StrCat("--role=", role),
                                      absl::StrCat("--otp_queue=", ns.queue),
                                      absl::StrCat("--otp_queue_shards=", ns.shards),
                                      absl::StrCat("--otp_consumer_group=", ns.group),
                                      "--otp_read_block=200ms",
                                      "--otp_claim_interval=200ms",
                                      "--otp_retry_initial_backoff=100ms",
                                      "--otp_retry_max_backoff=400ms",
                                      "--otp_delivery_timeout=1s",
                                      "--otp_claim_idle=3s"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }

  std::unique_ptr<pb::OtpService::Stub> stub_;
};

class OtpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_url_ = tally::testing::RequiredEnv("TALLY_TEST_REDIS_URL");
    auto options = ParseRedisUrl(redis_url_);
    ASSERT_TRUE(options.ok());
    redis_ = std::make_shared<RedisClient>(*options);
    outbox_ = absl::StrCat(tmp_.path(), "/outbox.jsonl");
    absl::StatusOr<std::shared_ptr<const tally::testing::TestKeys>> keys =
        tally::testing::TestKeys::Make();
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
  }
  void TearDown() override {
    if (redis_) {
      std::vector<std::string> del = ns_.Streams();
      del.insert(del.begin(), "DEL");
      auto ignored = redis_->Command(del);
      (void)ignored;
    }
  }

  std::unique_ptr<OtpProcess> Start(const std::string& role, std::vector<std::string> extra = {},
                                    tally::testing::ServiceOptions::Ready ready =
                                        tally::testing::ServiceOptions::Ready::kServing) {
    auto p = std::make_unique<OtpProcess>(ns_, redis_url_, keys_, role, extra, ready);
    // A failed start must end the test (unwinding, so helper processes are stopped), not go on
    // with a process that does not serve.
    if (absl::Status started = p->Start(); !started.ok()) {
      ADD_FAILURE() << started;
      throw std::runtime_error("tally-otp --role=" + role + " did not start");
    }
    return p;
  }
  const std::string& platform_key() const { return keys_->platform_key(); }

  std::vector<std::string> OutboxFlags() {
    return {"--otp_sms_provider=outbox", "--otp_email_provider=outbox",
            absl::StrCat("--otp_outbox_file=", outbox_)};
  }

  // A code for a login that has proven a factor (the normal caps apply).
  grpc::Status Send(pb::OtpService::Stub& stub, pb::Channel channel, const std::string& destination,
                    const std::string& user, pb::SendCodeResponse* response,
                    const std::string& platform_key = "") {
    pb::SendCodeRequest request;
    request.set_directory_id(ns_.dir);
    request.set_user_id(user);
    request.set_channel(channel);
    request.set_destination(destination);
    request.set_proven(true);
    return stub.SendCode(Context(platform_key).get(), request, response);
  }

  pb::VerifyCodeResponse Verify(pb::OtpService::Stub& stub, const std::string& challenge,
                                const std::string& code) {
    pb::VerifyCodeRequest request;
    request.set_directory_id(ns_.dir);
    request.set_challenge_id(challenge);
    request.set_code(code);
    pb::VerifyCodeResponse response;
    std::unique_ptr<grpc::ClientContext> context = Context();
    // A fresh channel's first connect can fail transiently on a loaded machine (seen in a full
    // ctest -j2 run: one of sixteen parallel channels); wait for it rather than fail fast.
    context->set_wait_for_ready(true);
    grpc::Status status = stub.VerifyCode(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // The code of a queued job, decrypted with the test key (for the api-only tests).
  std::string CodeFromStream(const std::string& challenge) {
    auto reply = redis_->Command({"XRANGE", ns_.stream, "-", "+"});
    if (!reply.ok()) return "";
    for (const RedisReply& entry : reply->elements()) {
      std::vector<std::pair<std::string, std::string>> fields;
      const auto& kv = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) fields.emplace_back(kv[i].str(), kv[i + 1].str());
      auto job = JobFromFields(fields);
      if (!job.ok() || job->challenge_id != challenge) continue;
      auto message = OpenMessage(JobKey(), *job);
      if (message.ok()) return CodeIn(message->text);
    }
    return "";
  }

  // Waits for `n` lines in the outbox file.
  std::vector<nlohmann::json> WaitForOutbox(size_t n, absl::Duration timeout = absl::Seconds(20)) {
    tally::testing::WaitFor([&] { return JsonLines(outbox_).size() >= n; }, timeout);
    return JsonLines(outbox_);
  }

  int64_t Pending() {
    auto reply = redis_->Command({"XPENDING", ns_.stream, ns_.group});
    if (!reply.ok() || !reply->IsArray() || reply->elements().empty()) return -1;
    return reply->elements()[0].integer();
  }

  Namespace ns_;
  std::string redis_url_;
  std::shared_ptr<const tally::testing::TestKeys> keys_;
  std::shared_ptr<RedisClient> redis_;
  tally::testing::TempDir tmp_;
  std::string outbox_;
};

TEST_F(OtpServerTest, CodesFlowFromApiThroughTheStreamAndASenderToTheOutbox) {
  auto api = Start("api");
  auto sender = Start("sender", OutboxFlags());
  pb::SendCodeResponse sms, email;
  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &sms).ok());
  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_EMAIL, "alice@example.org", "usr_1", &email).ok());
  EXPECT_EQ(sms.masked_destination(), "+31*******78");
  EXPECT_EQ(email.masked_destination(), "a***@example.org");
  EXPECT_EQ(sms.expire_time().seconds() - sms.resend_after().seconds(), 300 - 30);

  auto lines = WaitForOutbox(2);
  ASSERT_EQ(lines.size(), 2u) << sender->process().Output();
  std::map<std::string, nlohmann::json> by_channel;
  for (const auto& line : lines) by_channel[line["channel"]] = line;
  ASSERT_EQ(by_channel.count("sms"), 1u);
  ASSERT_EQ(by_channel.count("email"), 1u);
  EXPECT_EQ(by_channel["sms"]["destination"], "+31612345678");
  EXPECT_EQ(by_channel["email"]["destination"], "alice@example.org");
  EXPECT_THAT(by_channel["sms"]["text"].get<std::string>(), HasSubstr("expires in 5 minutes"));
  EXPECT_THAT(by_channel["sms"]["time"].get<std::string>(), ::testing::MatchesRegex("2[0-9-]+T.*Z"));
  const std::string sms_code = CodeIn(by_channel["sms"]["text"]);
  const std::string email_code = CodeIn(by_channel["email"]["text"]);
  ASSERT_EQ(sms_code.size(), 6u);

  auto accepted = Verify(api->stub(), sms.challenge_id(), sms_code);
  EXPECT_EQ(accepted.result(), pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_EQ(accepted.user_id(), "usr_1");
  EXPECT_EQ(accepted.channel(), pb::CHANNEL_SMS);
  EXPECT_EQ(Verify(api->stub(), sms.challenge_id(), sms_code).result(),
            pb::VERIFY_RESULT_EXPIRED);
  EXPECT_EQ(Verify(api->stub(), email.challenge_id(), email_code).result(),
            pb::VERIFY_RESULT_ACCEPTED);

  // Delivered jobs are acknowledged and removed: nothing left in the stream.
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] { return redis_->Command({"XLEN", ns_.stream})->integer() == 0; }, absl::Seconds(10)));
  EXPECT_EQ(Pending(), 0);

  // Codes never reach a log line.
  EXPECT_THAT(api->process().Output(), Not(HasSubstr(sms_code)));
  EXPECT_THAT(sender->process().Output(), Not(HasSubstr(sms_code)));
  EXPECT_THAT(sender->process().Output(), Not(HasSubstr(email_code)));

  // Metrics of both roles.
  const std::string api_metrics = api->Metrics();
  EXPECT_THAT(api_metrics,
              HasSubstr("tally_otp_codes_issued_total{channel=\"sms\",result=\"issued\"} 1"));
  EXPECT_THAT(api_metrics, HasSubstr("tally_otp_codes_verified_total{channel=\"sms\",result="
                                     "\"accepted\"} 1"));
  EXPECT_THAT(api_metrics, HasSubstr("tally_otp_codes_verified_total{channel=\"unknown\","
                                     "result=\"expired\"} 1"));
  EXPECT_THAT(api_metrics, HasSubstr("tally_store_up{store=\"redis\"} 1"));
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] {
        return sender->Metrics().find("tally_otp_stream_backlog 0") != std::string::npos;
      },
      absl::Seconds(15)));
  const std::string sender_metrics = sender->Metrics();
  EXPECT_THAT(sender_metrics, HasSubstr("tally_otp_deliveries_total{outcome=\"delivered\","
                                        "provider=\"outbox\"} 2"));
  EXPECT_THAT(sender_metrics, HasSubstr("tally_otp_delivery_latency_seconds_count{provider="
                                        "\"outbox\"} 2"));
  EXPECT_THAT(sender_metrics, HasSubstr("tally_otp_stream_pending 0"));

  // The sender role serves health (for probes) but not the API.
  EXPECT_EQ(sender->Health(), HealthCheckResponse::SERVING);
  pb::SendCodeResponse ignored;
  EXPECT_EQ(Send(sender->stub(), pb::CHANNEL_SMS, "+31612345670", "usr_2", &ignored).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  sender->process().Signal(SIGTERM);
  auto code = sender->process().Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << sender->process().Output();
}

TEST_F(OtpServerTest, RulesAndBadInputOverGrpc) {
  auto api = Start("api");
  pb::SendCodeResponse r;
  EXPECT_EQ(Send(api->stub(), pb::CHANNEL_UNSPECIFIED, "+31612345678", "u", &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Send(api->stub(), pb::CHANNEL_SMS, "0612345678", "u", &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Send(api->stub(), pb::CHANNEL_EMAIL, "not-an-address", "u", &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", std::string(500, 'u'), &r)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "u", &r, "wrong-key-wrong-key")
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &r).ok());
  pb::SendCodeResponse again;
  grpc::Status refused = Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &again);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("retry in"));
  EXPECT_EQ(redis_->Command({"XLEN", ns_.stream})->integer(), 1);  // nothing queued

  for (const std::string& code : {std::string(""), std::string("12ab56"),
                                  std::string(100, '1')}) {
    pb::VerifyCodeRequest v;
    v.set_directory_id(ns_.dir);
    v.set_challenge_id(r.challenge_id());
    v.set_code(code);
    pb::VerifyCodeResponse out;
    EXPECT_EQ(api->stub().VerifyCode(Context().get(), v, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << code;
  }
  const std::string code = CodeFromStream(r.challenge_id());
  ASSERT_EQ(code.size(), 6u);
  const std::string wrong = code == "000000" ? "000001" : "000000";
  EXPECT_EQ(Verify(api->stub(), r.challenge_id(), wrong).attempts_left(), 4);
  EXPECT_EQ(Verify(api->stub(), r.challenge_id(), code).result(), pb::VERIFY_RESULT_ACCEPTED);

  pb::ListDeadLettersRequest list;
  pb::ListDeadLettersResponse letters;
  EXPECT_EQ(api->stub().ListDeadLetters(Context().get(), list, &letters).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(api->stub().ListDeadLetters(Context(platform_key()).get(), list, &letters).ok());
  EXPECT_EQ(letters.dead_letters_size(), 0);
}

TEST_F(OtpServerTest, ACodeToNobodyIsThrottledByTheServiceNeverQueuedAndNeverAccepted) {
  // The service's own limits, whatever they are configured to: nobody else holds a copy.
  auto api = Start("all", [&] {
    std::vector<std::string> flags = OutboxFlags();
    flags.insert(flags.end(), {"--otp_cooldown=45s", "--otp_max_attempts=3"});
    return flags;
  }());
  pb::SendCodeRequest nobody;
  nobody.set_directory_id(ns_.dir);
  nobody.set_channel(pb::CHANNEL_SMS);
  nobody.set_no_recipient(true);
  nobody.set_no_recipient_key("n:mallory");
  pb::SendCodeResponse sent;
  grpc::Status s = api->stub().SendCode(Context().get(), nobody, &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sent.resend_after().seconds() - sent.expire_time().seconds(), 45 - 300);
  EXPECT_EQ(sent.masked_destination(), "");
  pb::SendCodeResponse again;
  grpc::Status refused = api->stub().SendCode(Context().get(), nobody, &again);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), ::testing::MatchesRegex(
                                           "a code was just sent to this destination; "
                                           "retry in (4[0-5]|3[0-9])s"));

  // Wrong codes count down the configured attempts; no code is ever accepted.
  EXPECT_EQ(Verify(api->stub(), sent.challenge_id(), "123456").result(),
            pb::VERIFY_RESULT_WRONG_CODE);
  pb::VerifyCodeResponse second = Verify(api->stub(), sent.challenge_id(), "654321");
  EXPECT_EQ(second.result(), pb::VERIFY_RESULT_WRONG_CODE);
  EXPECT_EQ(second.attempts_left(), 1);
  EXPECT_EQ(Verify(api->stub(), sent.challenge_id(), "000000").result(),
            pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS);

  // No delivery job: a real send afterwards is the only message the sender delivers.
  EXPECT_EQ(redis_->Command({"XLEN", ns_.stream})->integer(), 0);
  pb::SendCodeResponse real;
  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &real).ok());
  auto lines = WaitForOutbox(1);
  ASSERT_EQ(lines.size(), 1u) << api->process().Output();
  EXPECT_EQ(lines[0]["destination"], "+31612345678");
  const std::string metrics = api->Metrics();
  EXPECT_THAT(metrics,
              HasSubstr("tally_otp_codes_issued_total{channel=\"sms\",result=\"no_recipient\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("tally_otp_codes_issued_total{channel=\"sms\",result=\"issued\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("tally_otp_codes_issued_total{channel=\"sms\",result=\"cooldown\"} 1"));
  EXPECT_THAT(api->process().Output(), Not(HasSubstr("mallory")));
}

TEST_F(OtpServerTest, SixteenParallelVerifiesOfOneRightCodeGiveExactlyOneAccepted) {
  auto api = Start("api");
  pb::SendCodeResponse r;
  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &r).ok());
  const std::string code = CodeFromStream(r.challenge_id());
  ASSERT_EQ(code.size(), 6u);
  std::atomic<int> accepted{0}, expired{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      // One channel per caller, as sixteen orchestrator replicas would have.
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto stub = pb::OtpService::NewStub(grpc::CreateCustomChannel(
          api->address(), grpc::InsecureChannelCredentials(), args));
      while (!go.load()) std::this_thread::yield();
      auto result = Verify(*stub, r.challenge_id(), code).result();
      if (result == pb::VERIFY_RESULT_ACCEPTED) ++accepted;
      else if (result == pb::VERIFY_RESULT_EXPIRED) ++expired;
      else ++other;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(expired.load(), 15);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(OtpServerTest, AJobOfAKilledSenderIsDeliveredByAnotherOnceItsClaimTimePasses) {
  auto api = Start("api");
  // The first sender's outbox is a FIFO nobody reads: its delivery blocks after it has read the
  // job and before it can acknowledge it.
  const std::string fifo = absl::StrCat(tmp_.path(), "/blocked.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto stuck = Start("sender", {"--otp_sms_provider=outbox", "--otp_email_provider=outbox",
                                absl::StrCat("--otp_outbox_file=", fifo),
                                "--otp_sender_workers=1"});
  pb::SendCodeResponse r;
  ASSERT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &r).ok());
  ASSERT_TRUE(tally::testing::WaitFor([&] { return Pending() == 1; }, absl::Seconds(15)));
  stuck->process().Signal(SIGKILL);
  ASSERT_TRUE(stuck->process().Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(Pending(), 1);  // read, never acknowledged

  auto rescuer = Start("sender", OutboxFlags());
  auto lines = WaitForOutbox(1, absl::Seconds(30));
  ASSERT_EQ(lines.size(), 1u) << rescuer->process().Output();
  EXPECT_EQ(lines[0]["destination"], "+31612345678");
  EXPECT_EQ(Verify(api->stub(), r.challenge_id(), CodeIn(lines[0]["text"])).result(),
            pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_THAT(rescuer->process().Output(), HasSubstr("reclaimed"));
  EXPECT_TRUE(tally::testing::WaitFor([&] { return Pending() == 0; }, absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(JsonLines(outbox_).size(), 1u);  // delivered once
}

TEST_F(OtpServerTest, HttpGatewayFailuresAreRetriedAndA400IsDeadLettered) {
  tally::testing::FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  gateway.ScriptStatuses({500, 500, 200, 400});
  auto otp = Start("all", {"--otp_sms_provider=http",
                           absl::StrCat("--sms_http_url=", gateway.url("/v1/sms")),
                           "--allow_insecure_gateway",
                           "--sms_http_token=test-gateway-token", "--otp_email_provider=outbox",
                           absl::StrCat("--otp_outbox_file=", outbox_)});
  pb::SendCodeResponse first;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &first).ok());
  ASSERT_TRUE(tally::testing::WaitFor([&] { return gateway.Requests().size() >= 3; },
                                      absl::Seconds(20)))
      << otp->process().Output();
  auto requests = gateway.Requests();
  EXPECT_EQ(requests[0].status, 500);
  EXPECT_EQ(requests[1].status, 500);
  EXPECT_EQ(requests[2].status, 200);
  for (const auto& request : requests) {
    EXPECT_EQ(request.path, "/v1/sms");
    EXPECT_EQ(request.authorization, "Bearer test-gateway-token");
    EXPECT_EQ(request.content_type, "application/json");
  }
  const auto body = nlohmann::json::parse(requests[2].body);
  EXPECT_EQ(body["to"], "+31612345678");
  const std::string code = CodeIn(body["text"]);
  EXPECT_EQ(Verify(otp->stub(), first.challenge_id(), code).result(), pb::VERIFY_RESULT_ACCEPTED);

  pb::SendCodeResponse second;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_SMS, "+31687654321", "usr_2", &second).ok());
  pb::ListDeadLettersResponse letters;
  ASSERT_TRUE(tally::testing::WaitFor(
      [&] {
        pb::ListDeadLettersRequest list;
        letters.Clear();
        return otp->stub().ListDeadLetters(Context(platform_key()).get(), list, &letters).ok() &&
               letters.dead_letters_size() == 1;
      },
      absl::Seconds(20)))
      << otp->process().Output();
  const pb::DeadLetter& dead = letters.dead_letters(0);
  EXPECT_EQ(dead.reason(), "permanent: HTTP 400");
  EXPECT_EQ(dead.challenge_id(), second.challenge_id());
  EXPECT_EQ(dead.directory_id(), ns_.dir);
  EXPECT_EQ(dead.channel(), pb::CHANNEL_SMS);
  EXPECT_EQ(dead.masked_destination(), "+31*******21");
  EXPECT_EQ(dead.provider(), "http");
  EXPECT_EQ(dead.attempts(), 1);
  requests = gateway.Requests();
  EXPECT_EQ(requests.size(), 4u);  // a 400 is not retried
  // One after the other, the four requests came on one kept-alive connection.
  std::set<int> client_ports;
  for (const auto& request : requests) client_ports.insert(request.client_port);
  EXPECT_EQ(client_ports.size(), 1u);

  auto ctl = tally::testing::RunCommand(
      {absl::StrCat(tally::testing::BinDir(), "/tallyctl"), absl::StrCat("--addr=", otp->address()),
       "otp", "dead-letters"},
      {{"TALLY_PLATFORM_KEY", platform_key()}});
  EXPECT_EQ(ctl.exit_code, 0) << ctl.output;
  EXPECT_THAT(ctl.output, HasSubstr("permanent: HTTP 400"));
  EXPECT_THAT(ctl.output, HasSubstr("1 dead letter\n"));

  EXPECT_TRUE(tally::testing::WaitFor(
      [&] {
        return otp->Metrics().find("tally_otp_dead_letter_stream_length 1") != std::string::npos;
      },
      absl::Seconds(15)));
  const std::string metrics = otp->Metrics();
  EXPECT_THAT(metrics, HasSubstr("tally_otp_deliveries_total{outcome=\"retry\",provider=\"http\"} 2"));
  EXPECT_THAT(metrics,
              HasSubstr("tally_otp_deliveries_total{outcome=\"delivered\",provider=\"http\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tally_otp_dead_letters_total{reason=\"permanent\"} 1"));
  EXPECT_THAT(otp->process().Output(), Not(HasSubstr(code)));
  EXPECT_THAT(otp->process().Output(), Not(HasSubstr("test-gateway-token")));
}

TEST_F(OtpServerTest, SmtpDeliversARealEmailWithAValidCode) {
  const int smtp_port = tally::testing::FreePort();
  const std::string maildir = absl::StrCat(tmp_.path(), "/mail");
  std::filesystem::create_directory(maildir);
  tally::testing::Subprocess smtp;
  ASSERT_EQ(StartSmtpSink(smtp, smtp_port, maildir), absl::OkStatus());
  auto otp = Start("all", {"--otp_email_provider=smtp", "--smtp_host=127.0.0.1",
                           absl::StrCat("--smtp_port=", smtp_port), "--smtp_tls=none",
                           "--smtp_from=no-reply@tally.test", "--smtp_from_name=Tally",
                           "--otp_language=nl", "--otp_sms_provider=outbox",
                           absl::StrCat("--otp_outbox_file=", outbox_)});
  pb::SendCodeResponse r;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, "alice@example.org", "usr_1", &r).ok());
  const std::string eml = absl::StrCat(maildir, "/1.eml");
  ASSERT_TRUE(tally::testing::WaitFor([&] { return std::filesystem::exists(eml); },
                                      absl::Seconds(20)))
      << otp->process().Output() << smtp.Output();
  const std::string mail = ReadFile(eml);
  EXPECT_THAT(mail, ::testing::ContainsRegex("Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} "
                                             "[0-9:]{8} \\+0000"));
  EXPECT_THAT(mail, HasSubstr("From: \"Tally\" <no-reply@tally.test>"));
  EXPECT_THAT(mail, HasSubstr("To: <alice@example.org>"));
  EXPECT_THAT(mail, HasSubstr("Subject: Je verificatiecode"));
  EXPECT_THAT(mail, ::testing::ContainsRegex("Message-ID: <" + r.challenge_id() + "\\.[0-9a-f]+@tally\\.test>"));
  EXPECT_THAT(mail, HasSubstr("5 minuten"));
  const auto envelope = nlohmann::json::parse(ReadFile(absl::StrCat(maildir, "/1.json")));
  EXPECT_EQ(envelope["mail_from"], "no-reply@tally.test");
  EXPECT_EQ(envelope["rcpt_tos"], nlohmann::json::array({"alice@example.org"}));
  const std::string code = CodeIn(mail);
  ASSERT_EQ(code.size(), 6u);
  EXPECT_EQ(Verify(otp->stub(), r.challenge_id(), code).result(), pb::VERIFY_RESULT_ACCEPTED);
  EXPECT_THAT(otp->Metrics(),
              HasSubstr("tally_otp_deliveries_total{outcome=\"delivered\",provider=\"smtp\"} 1"));

  // A mailbox the server refuses (550) is a permanent failure: dead letter, no retry.
  pb::SendCodeResponse refused;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, "nobody@example.org", "usr_2", &refused).ok());
  pb::ListDeadLettersResponse letters;
  ASSERT_TRUE(tally::testing::WaitFor(
      [&] {
        pb::ListDeadLettersRequest list;
        letters.Clear();
        return otp->stub().ListDeadLetters(Context(platform_key()).get(), list, &letters).ok() &&
               letters.dead_letters_size() == 1;
      },
      absl::Seconds(20)))
      << otp->process().Output();
  EXPECT_THAT(letters.dead_letters(0).reason(), HasSubstr("permanent: smtp"));
  EXPECT_THAT(letters.dead_letters(0).reason(), HasSubstr("550"));
  EXPECT_EQ(letters.dead_letters(0).masked_destination(), "n***@example.org");
  EXPECT_EQ(letters.dead_letters(0).attempts(), 1);
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat(maildir, "/2.eml")));

  // After the refusal (curl closes a connection whose transaction failed) the next message goes.
  pb::SendCodeResponse next;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, "zoe@example.org", "usr_3", &next).ok());
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] { return std::filesystem::exists(absl::StrCat(maildir, "/2.eml")); }, absl::Seconds(20)))
      << otp->process().Output() << smtp.Output();
  EXPECT_THAT(otp->Metrics(), Not(HasSubstr("outcome=\"retry\",provider=\"smtp\"")));
  smtp.Signal(SIGTERM);
}

// Messages share the sender's connection to the SMTP server; when the server goes away and comes
// back, the next message opens a new connection instead of failing on the dead one.
TEST_F(OtpServerTest, SmtpKeepsItsConnectionAndReconnectsAfterTheServerRestarts) {
  const int smtp_port = tally::testing::FreePort();
  const std::string first_dir = absl::StrCat(tmp_.path(), "/mail-first");
  const std::string second_dir = absl::StrCat(tmp_.path(), "/mail-second");
  std::filesystem::create_directory(first_dir);
  std::filesystem::create_directory(second_dir);
  auto smtp = std::make_unique<tally::testing::Subprocess>();
  ASSERT_EQ(StartSmtpSink(*smtp, smtp_port, first_dir), absl::OkStatus());
  // One sender worker: each message is handed over after the previous one's connection is back
  // in the pool (the sink stores a message before curl returns).
  auto otp = Start("all", {"--otp_email_provider=smtp", "--smtp_host=127.0.0.1",
                           absl::StrCat("--smtp_port=", smtp_port), "--smtp_tls=none",
                           "--smtp_from=no-reply@tally.test", "--otp_sms_provider=outbox",
                           absl::StrCat("--otp_outbox_file=", outbox_), "--otp_sender_workers=1"});
  auto send_and_wait = [&](const std::string& dir, int n, const std::string& to,
                           const std::string& user) -> nlohmann::json {
    pb::SendCodeResponse r;
    EXPECT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, to, user, &r).ok());
    const std::string json = absl::StrCat(dir, "/", n, ".json");
    const std::string eml = absl::StrCat(dir, "/", n, ".eml");
    EXPECT_TRUE(tally::testing::WaitFor([&] { return std::filesystem::exists(eml); },
                                        absl::Seconds(20)))
        << otp->process().Output() << smtp->Output();
    if (!std::filesystem::exists(json)) return nlohmann::json::object();
    return nlohmann::json::parse(ReadFile(json));
  };
  const nlohmann::json first = send_and_wait(first_dir, 1, "ann@example.org", "usr_keep1");
  const nlohmann::json second = send_and_wait(first_dir, 2, "ben@example.org", "usr_keep2");
  const nlohmann::json third = send_and_wait(first_dir, 3, "cid@example.org", "usr_keep3");
  ASSERT_TRUE(first.contains("client_port"));
  EXPECT_EQ(second["client_port"], first["client_port"]);
  EXPECT_EQ(third["client_port"], first["client_port"]);

  // The server restarts: the kept connection is dead, and the next message goes out on a new
  // one at its first attempt.
  smtp->Signal(SIGTERM);
  smtp = std::make_unique<tally::testing::Subprocess>();
  ASSERT_EQ(StartSmtpSink(*smtp, smtp_port, second_dir), absl::OkStatus());
  const nlohmann::json after = send_and_wait(second_dir, 1, "dee@example.org", "usr_keep4");
  ASSERT_TRUE(after.contains("client_port"));
  EXPECT_NE(after["client_port"], first["client_port"]);
  // Counted once Deliver has returned, which is after the sink stored the message.
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] {
        return otp->Metrics().find(
                   "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"smtp\"} 4") !=
               std::string::npos;
      },
      absl::Seconds(10)))
      << otp->Metrics();
  EXPECT_THAT(otp->Metrics(), Not(HasSubstr("outcome=\"retry\",provider=\"smtp\"")));
  smtp->Signal(SIGTERM);
}

// Postfix and Exim drop an idle client with a 421 reply before they close: the reply waits
// unread on the kept connection, so it still looks alive when the next message takes it. That
// message must go out on a new connection at once, not fail and wait for a retry.
TEST_F(OtpServerTest, SmtpReplacesAConnectionTheServerDroppedWithA421) {
  const int smtp_port = tally::testing::FreePort();
  const std::string maildir = absl::StrCat(tmp_.path(), "/mail-idle");
  std::filesystem::create_directory(maildir);
  tally::testing::Subprocess smtp;
  ASSERT_EQ(StartSmtpSink(smtp, smtp_port, maildir, {}, {{"SMTP_SINK_IDLE_TIMEOUT", "1"}}),
            absl::OkStatus());
  auto otp = Start("all", {"--otp_email_provider=smtp", "--smtp_host=127.0.0.1",
                           absl::StrCat("--smtp_port=", smtp_port), "--smtp_tls=none",
                           "--smtp_from=no-reply@tally.test", "--otp_sms_provider=outbox",
                           absl::StrCat("--otp_outbox_file=", outbox_), "--otp_sender_workers=1"});
  auto delivered = [&](int n) {
    return tally::testing::WaitFor(
        [&] {
          return otp->Metrics().find(absl::StrCat(
                     "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"smtp\"} ",
                     n)) != std::string::npos;
        },
        absl::Seconds(20));
  };
  pb::SendCodeResponse r;
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, "eve@example.org", "usr_idle1", &r).ok());
  ASSERT_TRUE(delivered(1)) << otp->process().Output() << smtp.Output();
  // Past the server's idle timeout: it has sent its 421 and closed.
  absl::SleepFor(absl::Seconds(2.5));
  ASSERT_TRUE(Send(otp->stub(), pb::CHANNEL_EMAIL, "fay@example.org", "usr_idle2", &r).ok());
  ASSERT_TRUE(delivered(2)) << otp->process().Output() << smtp.Output();
  EXPECT_TRUE(std::filesystem::exists(absl::StrCat(maildir, "/2.eml")));
  EXPECT_THAT(otp->Metrics(), Not(HasSubstr("outcome=\"retry\",provider=\"smtp\"")));
  smtp.Signal(SIGTERM);
}

// STARTTLS with login, then implicit TLS, against a certificate the test makes; the sender
// verifies it with --otp_provider_ca_file.
TEST_F(OtpServerTest, SmtpOverStartTlsWithLoginAndOverImplicitTls) {
  const std::string cert = absl::StrCat(tmp_.path(), "/cert.pem");
  const std::string key = absl::StrCat(tmp_.path(), "/key.pem");
  auto made = tally::testing::RunCommand(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
       "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "2"});
  ASSERT_EQ(made.exit_code, 0) << made.output;

  struct Case {
    std::string mode;
    std::vector<std::string> flags;
    std::string user;
  };
  const std::vector<Case> cases = {
      {"starttls",
       {"--smtp_tls=starttls", "--smtp_username=mailer", "--smtp_password=mail-secret"},
       "usr_tls1"},
      {"implicit", {"--smtp_tls=implicit"}, "usr_tls2"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.mode);
    const int port = tally::testing::FreePort();
    const std::string maildir = absl::StrCat(tmp_.path(), "/mail-", c.mode);
    std::filesystem::create_directory(maildir);
    tally::testing::Subprocess smtp;
    std::vector<std::string> args = {c.mode, cert, key};
    if (c.mode == "starttls") {
      args.push_back("mailer");
      args.push_back("mail-secret");
    }
    ASSERT_EQ(StartSmtpSink(smtp, port, maildir, args), absl::OkStatus());
    std::vector<std::string> flags = {"--otp_email_provider=smtp", "--smtp_host=localhost",
                                      absl::StrCat("--smtp_port=", port),
                                      "--smtp_from=no-reply@tally.test",
                                      absl::StrCat("--otp_provider_ca_file=", cert),
                                      "--otp_sms_provider=outbox",
                                      absl::StrCat("--otp_outbox_file=", outbox_)};
    flags.insert(flags.end(), c.flags.begin(), c.flags.end());
    Namespace ns;
    OtpProcess otp(ns, redis_url_, keys_, "all", flags);
    const absl::Status started = otp.Start();
    ASSERT_TRUE(started.ok()) << started;
    pb::SendCodeRequest request;
    request.set_directory_id(ns.dir);
    request.set_user_id(c.user);
    request.set_channel(pb::CHANNEL_EMAIL);
    request.set_destination("bob@example.org");
    pb::SendCodeResponse r;
    ASSERT_TRUE(otp.stub().SendCode(Context().get(), request, &r).ok());
    const std::string eml = absl::StrCat(maildir, "/1.eml");
    ASSERT_TRUE(tally::testing::WaitFor([&] { return std::filesystem::exists(eml); },
                                        absl::Seconds(20)))
        << otp.process().Output() << smtp.Output();
    const std::string mail = ReadFile(eml);
    EXPECT_THAT(mail, HasSubstr("To: <bob@example.org>"));
    pb::VerifyCodeRequest v;
    v.set_directory_id(ns.dir);
    v.set_challenge_id(r.challenge_id());
    v.set_code(CodeIn(mail));
    pb::VerifyCodeResponse out;
    ASSERT_TRUE(otp.stub().VerifyCode(Context().get(), v, &out).ok());
    EXPECT_EQ(out.result(), pb::VERIFY_RESULT_ACCEPTED);
    // A second message rides the same TLS connection, already logged in (once the first one's
    // delivery is counted, its connection is back in the pool).
    ASSERT_TRUE(tally::testing::WaitFor(
        [&] {
          return otp.Metrics().find(
                     "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"smtp\"} 1") !=
                 std::string::npos;
        },
        absl::Seconds(10)));
    request.set_user_id(c.user + "b");
    request.set_destination("bea@example.org");
    ASSERT_TRUE(otp.stub().SendCode(Context().get(), request, &r).ok());
    ASSERT_TRUE(tally::testing::WaitFor(
        [&] { return std::filesystem::exists(absl::StrCat(maildir, "/2.eml")); },
        absl::Seconds(20)))
        << otp.process().Output() << smtp.Output();
    EXPECT_EQ(nlohmann::json::parse(ReadFile(absl::StrCat(maildir, "/2.json")))["client_port"],
              nlohmann::json::parse(ReadFile(absl::StrCat(maildir, "/1.json")))["client_port"]);
    EXPECT_THAT(otp.process().Output(), Not(HasSubstr("mail-secret")));
    std::vector<std::string> del = ns.Streams();
    del.insert(del.begin(), "DEL");
    auto ignored = redis_->Command(del);
    (void)ignored;
    smtp.Signal(SIGTERM);
  }
}

// A send refused by a budget carries gRPC's rich error details: ErrorInfo SEND_BUDGET_EXHAUSTED
// naming the budget, and RetryInfo; the refusals are counted per budget and channel.
TEST_F(OtpServerTest, BudgetRefusalsCarryTheReasonAndRetryInfoOverGrpc) {
  auto api = Start("api", {"--otp_cooldown=40s", "--otp_unproven_client_ip_hourly_cap=2",
                           "--otp_unproven_directory_hourly_cap=50"});
  auto unproven = [&](const std::string& user, const std::string& ip) {
    pb::SendCodeRequest request;
    request.set_directory_id(ns_.dir);
    request.set_user_id(user);
    request.set_channel(pb::CHANNEL_SMS);
    request.set_destination("+31612345678");
    request.set_client_ip(ip);
    pb::SendCodeResponse response;
    return api->stub().SendCode(Context().get(), request, &response);
  };
  ASSERT_TRUE(unproven("usr_1", "198.51.100.1").ok());
  // The user's cooldown before proof.
  grpc::Status cooldown = unproven("usr_1", "198.51.100.2");
  ASSERT_EQ(cooldown.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::Status details = FromGrpcStatus(cooldown);
  EXPECT_EQ(ErrorReason(cooldown), "SEND_BUDGET_EXHAUSTED");
  ASSERT_TRUE(ErrorInfoOf(details).has_value());
  EXPECT_EQ(ErrorInfoOf(details)->domain(), "tally");
  EXPECT_EQ(ErrorInfoOf(details)->metadata().at("budget"), "unproven_user");
  ASSERT_TRUE(RetryDelayOf(details).has_value());
  EXPECT_GE(*RetryDelayOf(details), absl::Seconds(38));
  EXPECT_LE(*RetryDelayOf(details), absl::Seconds(40));
  // The client address's budget: two per hour.
  ASSERT_TRUE(unproven("usr_2", "198.51.100.1").ok());
  grpc::Status address = unproven("usr_3", "198.51.100.1");
  ASSERT_EQ(address.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  details = FromGrpcStatus(address);
  EXPECT_EQ(ErrorInfoOf(details)->metadata().at("budget"), "unproven_client_ip");
  EXPECT_GE(*RetryDelayOf(details), absl::Minutes(59));
  EXPECT_LE(*RetryDelayOf(details), absl::Hours(1));
  EXPECT_THAT(address.error_message(), HasSubstr("client address"));
  // A proven code to that number still goes out, and a malformed address is refused as such.
  pb::SendCodeResponse r;
  EXPECT_TRUE(Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &r).ok());
  EXPECT_EQ(unproven("usr_4", "not-an-address").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::string metrics = api->Metrics();
  EXPECT_THAT(metrics, HasSubstr("tally_otp_sends_refused_total{budget=\"unproven_user\","
                                 "channel=\"sms\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tally_otp_sends_refused_total{budget=\"unproven_client_ip\","
                                 "channel=\"sms\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tally_otp_codes_issued_total{channel=\"sms\",result="
                                 "\"unproven_client_ip_cap\"} 1"));
  EXPECT_THAT(api->process().Output(), Not(HasSubstr("198.51.100")));
}

// Each kind of notice goes through the queue, a sender and the outbox like a code; notices
// have a budget of their own per destination.
TEST_F(OtpServerTest, SendNoticeReachesTheOutboxForEachKind) {
  auto otp = Start("all", [&] {
    std::vector<std::string> flags = OutboxFlags();
    flags.push_back("--otp_notice_destination_hourly_cap=3");
    return flags;
  }());
  auto notice = [&](pb::Channel channel, const std::string& destination, pb::NoticeKind kind) {
    pb::SendNoticeRequest request;
    request.set_directory_id(ns_.dir);
    request.set_channel(channel);
    request.set_destination(destination);
    request.set_kind(kind);
    pb::SendNoticeResponse response;
    return otp->stub().SendNotice(Context().get(), request, &response);
  };
  ASSERT_TRUE(notice(pb::CHANNEL_EMAIL, "old@example.org", pb::NOTICE_CONTACT_CHANGED).ok());
  ASSERT_TRUE(notice(pb::CHANNEL_SMS, "+31611111111", pb::NOTICE_RECOVERY_CODE_USED).ok());
  ASSERT_TRUE(notice(pb::CHANNEL_SMS, "+31611111111", pb::NOTICE_DEVICE_REMEMBERED).ok());
  auto lines = WaitForOutbox(3);
  ASSERT_EQ(lines.size(), 3u) << otp->process().Output();
  bool contact = false, recovery = false, device = false;
  for (const auto& line : lines) {
    const std::string text = line["text"];
    EXPECT_FALSE(std::regex_search(text, std::regex("\\b[0-9]{6}\\b"))) << text;
    if (line["destination"] == "old@example.org") {
      contact = true;
      EXPECT_EQ(line["channel"], "email");
      EXPECT_EQ(line["subject"], "Your contact details were changed");
      EXPECT_THAT(text, HasSubstr("phone number or e-mail address of your account was changed"));
    } else {
      EXPECT_EQ(line["destination"], "+31611111111");
      EXPECT_EQ(line["channel"], "sms");
      recovery |= text.find("recovery code") != std::string::npos;
      device |= text.find("device was just remembered") != std::string::npos;
    }
  }
  EXPECT_TRUE(contact && recovery && device);

  ASSERT_TRUE(notice(pb::CHANNEL_SMS, "+31611111111", pb::NOTICE_CONTACT_CHANGED).ok());
  grpc::Status refused = notice(pb::CHANNEL_SMS, "+31611111111", pb::NOTICE_CONTACT_CHANGED);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(refused), "SEND_BUDGET_EXHAUSTED");
  EXPECT_EQ(ErrorInfoOf(FromGrpcStatus(refused))->metadata().at("budget"), "notice_destination");
  EXPECT_TRUE(RetryDelayOf(FromGrpcStatus(refused)).has_value());
  EXPECT_EQ(notice(pb::CHANNEL_SMS, "+31611111111", pb::NOTICE_KIND_UNSPECIFIED).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(WaitForOutbox(4).size(), 4u);
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] {
        return otp->Metrics().find(
                   "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"outbox\"} 4") !=
               std::string::npos;
      },
      absl::Seconds(10)));
  const std::string metrics = otp->Metrics();
  EXPECT_THAT(metrics, HasSubstr("tally_otp_notices_total{channel=\"sms\",kind=\"contact_changed\","
                                 "result=\"queued\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tally_otp_notices_total{channel=\"sms\",kind=\"contact_changed\","
                                 "result=\"refused\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("tally_otp_sends_refused_total{budget=\"notice_destination\","
                                 "channel=\"sms\"} 1"));
  EXPECT_THAT(otp->process().Output(), Not(HasSubstr("31611111111")));
}

// Jobs of directories on every shard are delivered by one sender, and the dead letters of every
// shard are listed, newest first, a page at a time (the dead-letter gauge counts them all).
TEST_F(OtpServerTest, SendersServeEveryShardAndListDeadLettersSeesThemAll) {
  tally::testing::FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  gateway.SetDefaultStatus(400);
  auto otp = Start("all", {"--otp_sms_provider=http", "--allow_insecure_gateway",
                           absl::StrCat("--sms_http_url=", gateway.url("/v1/sms")),
                           "--sms_http_token=test-gateway-token", "--otp_email_provider=outbox",
                           absl::StrCat("--otp_outbox_file=", outbox_), "--otp_sender_workers=2"});
  std::set<std::string> challenges, dirs;
  for (int shard = 0; shard < ns_.shards; ++shard) {
    const std::string dir = ns_.DirOnShard(shard);
    dirs.insert(dir);
    pb::SendCodeRequest request;
    request.set_directory_id(dir);
    request.set_user_id("usr_1");
    request.set_channel(pb::CHANNEL_SMS);
    request.set_destination(absl::StrCat("+3161234567", shard));
    request.set_proven(true);
    pb::SendCodeResponse response;
    ASSERT_TRUE(otp->stub().SendCode(Context().get(), request, &response).ok());
    challenges.insert(response.challenge_id());
    // And an e-mail code that is delivered.
    request.set_channel(pb::CHANNEL_EMAIL);
    request.set_destination(absl::StrCat("user", shard, "@example.org"));
    ASSERT_TRUE(otp->stub().SendCode(Context().get(), request, &response).ok());
  }
  EXPECT_EQ(WaitForOutbox(ns_.shards).size(), static_cast<size_t>(ns_.shards))
      << otp->process().Output();
  std::vector<pb::DeadLetter> seen;
  ASSERT_TRUE(tally::testing::WaitFor(
      [&] {
        seen.clear();
        pb::ListDeadLettersRequest list;
        list.set_page_size(1);
        for (int page = 0; page < 10; ++page) {
          pb::ListDeadLettersResponse letters;
          if (!otp->stub().ListDeadLetters(Context(platform_key()).get(), list, &letters).ok()) {
            return false;
          }
          seen.insert(seen.end(), letters.dead_letters().begin(), letters.dead_letters().end());
          if (letters.next_page_token().empty()) break;
          list.set_page_token(letters.next_page_token());
        }
        return seen.size() == static_cast<size_t>(ns_.shards);
      },
      absl::Seconds(30)))
      << otp->process().Output();
  std::set<std::string> dead_challenges, dead_dirs;
  for (const pb::DeadLetter& letter : seen) {
    dead_challenges.insert(letter.challenge_id());
    dead_dirs.insert(letter.directory_id());
    EXPECT_EQ(letter.reason(), "permanent: HTTP 400");
  }
  EXPECT_EQ(dead_challenges, challenges);
  EXPECT_EQ(dead_dirs, dirs);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(FromProtoTime(seen[i - 1].time()), FromProtoTime(seen[i].time()));
  }
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] {
        return otp->Metrics().find(absl::StrCat("tally_otp_dead_letter_stream_length ",
                                                ns_.shards)) != std::string::npos;
      },
      absl::Seconds(15)));
}

TEST_F(OtpServerTest, TallyctlSendsAndVerifiesACode) {
  auto otp = Start("all", OutboxFlags());
  const std::string tallyctl = absl::StrCat(tally::testing::BinDir(), "/tallyctl");
  const std::string addr = absl::StrCat("--addr=", otp->address());
  auto sent = tally::testing::RunCommand({tallyctl, addr, "--json", "otp", "send", ns_.dir,
                                          "usr_ctl", "--channel", "email", "--destination",
                                          "ops@example.org"});
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(sent.output, m, std::regex("\"challenge_id\": \"(otp_[a-z0-9]+)\"")))
      << sent.output;
  const std::string challenge = m[1];
  auto lines = WaitForOutbox(1);
  ASSERT_EQ(lines.size(), 1u);
  const std::string code = CodeIn(lines[0]["text"]);
  auto verified =
      tally::testing::RunCommand({tallyctl, addr, "otp", "verify", ns_.dir, challenge, code});
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("result         accepted"));
  EXPECT_THAT(verified.output, HasSubstr("usr_ctl (email)"));
  auto refused = tally::testing::RunCommand({tallyctl, addr, "otp", "send", ns_.dir, "usr_ctl",
                                             "--channel", "email", "--destination",
                                             "ops@example.org"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("RESOURCE_EXHAUSTED"));
  auto bad = tally::testing::RunCommand({tallyctl, addr, "otp", "send", ns_.dir, "u",
                                         "--channel", "fax", "--destination", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  auto denied = tally::testing::RunCommand({tallyctl, addr, "otp", "dead-letters"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.output, HasSubstr("UNAUTHENTICATED"));

  // A budget refusal prints its details.
  EXPECT_THAT(refused.output, HasSubstr("SEND_BUDGET_EXHAUSTED"));

  auto notice = tally::testing::RunCommand({tallyctl, addr, "otp", "notice", ns_.dir,
                                            "--channel", "email", "--destination",
                                            "ops@example.org", "--kind", "device-remembered"});
  ASSERT_EQ(notice.exit_code, 0) << notice.output;
  lines = WaitForOutbox(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["subject"], "A device was remembered");
  auto bad_kind = tally::testing::RunCommand({tallyctl, addr, "otp", "notice", ns_.dir,
                                              "--channel", "email", "--destination",
                                              "ops@example.org", "--kind", "hello"});
  EXPECT_EQ(bad_kind.exit_code, 2);
  // Proven: the normal caps (the destination's cooldown refuses the next one at once).
  auto proven = tally::testing::RunCommand({tallyctl, addr, "otp", "send", ns_.dir, "usr_ctl2",
                                            "--channel", "sms", "--destination", "+31612345699",
                                            "--proven"});
  ASSERT_EQ(proven.exit_code, 0) << proven.output;
  auto again = tally::testing::RunCommand({tallyctl, addr, "otp", "send", ns_.dir, "usr_ctl3",
                                           "--channel", "sms", "--destination", "+31612345699",
                                           "--proven"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("a code was just sent to this destination"));
}

TEST_F(OtpServerTest, RedisDownIsUnavailableAndHealthIsNotServing) {
  redis_url_ = absl::StrCat("redis://127.0.0.1:", tally::testing::FreePort());
  auto api = Start("api", {}, tally::testing::ServiceOptions::Ready::kConnected);
  pb::SendCodeResponse r;
  grpc::Status s = Send(api->stub(), pb::CHANNEL_SMS, "+31612345678", "usr_1", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(r.challenge_id().empty());
  EXPECT_TRUE(tally::testing::WaitFor(
      [&] { return api->Health() == HealthCheckResponse::NOT_SERVING; }, absl::Seconds(10)));
  redis_.reset();  // nothing to clean up
}

TEST(OtpServerConfigTest, BadConfigurationExitsWithCodeTwoAndOneLine) {
  const std::string binary = absl::StrCat(tally::testing::BinDir(), "/tally-otp");
  const std::map<std::string, std::string> env = {{"TALLY_REDIS_URL", "redis://127.0.0.1:1"},
                                                  {"TALLY_OTP_HMAC_KEY", kHmacKey},
                                                  {"TALLY_OTP_ENCRYPTION_KEY", kJobKeyHex}};
  auto run = [&](std::vector<std::string> args, std::map<std::string, std::string> overrides) {
    std::map<std::string, std::string> e = env;
    for (auto& [k, v] : overrides) e[k] = v;
    args.insert(args.begin(), binary);
    args.push_back(absl::StrCat("--listen=127.0.0.1:", tally::testing::FreePort()));
    return tally::testing::RunCommand(args, e);
  };
  auto no_key = run({"--role=api"}, {{"TALLY_OTP_HMAC_KEY", ""}});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.output, HasSubstr("invalid configuration: --otp_hmac_key"));
  EXPECT_EQ(std::count(no_key.output.begin(), no_key.output.end(), '\n'), 1) << no_key.output;
  auto short_key = run({"--role=api"}, {{"TALLY_OTP_ENCRYPTION_KEY", "c2hvcnQta2V5"}});
  EXPECT_EQ(short_key.exit_code, 2);
  EXPECT_THAT(short_key.output, Not(HasSubstr("c2hvcnQta2V5")));
  auto no_provider = run({"--role=sender"}, {});
  EXPECT_EQ(no_provider.exit_code, 2);
  EXPECT_THAT(no_provider.output, HasSubstr("--otp_sms_provider"));
  auto bad_role = run({"--role=both"}, {});
  EXPECT_EQ(bad_role.exit_code, 2);
  auto no_redis = run({"--role=api"}, {{"TALLY_REDIS_URL", ""}});
  EXPECT_EQ(no_redis.exit_code, 2);
  auto smtp_no_host = run({"--role=sender", "--otp_sms_provider=outbox",
                           "--otp_email_provider=smtp"}, {});
  EXPECT_EQ(smtp_no_host.exit_code, 2);
  EXPECT_THAT(smtp_no_host.output, HasSubstr("--smtp_host"));
  auto login = run({"--role=sender", "--otp_sms_provider=outbox", "--otp_email_provider=smtp",
                    "--smtp_host=mail.example.org", "--smtp_from=a@example.org",
                    "--smtp_username=mailer"}, {});
  EXPECT_EQ(login.exit_code, 2);
  EXPECT_THAT(login.output, HasSubstr("TALLY_SMTP_PASSWORD"));
  auto no_token = run({"--role=sender", "--otp_email_provider=outbox", "--otp_sms_provider=http",
                       "--sms_http_url=https://sms.example.org/send"}, {});
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_THAT(no_token.output, HasSubstr("--sms_http_token"));
  // The gateway gets the token and every code: plain HTTP only when allowed for development.
  auto plain = run({"--role=sender", "--otp_email_provider=outbox", "--otp_sms_provider=http",
                    "--sms_http_url=http://sms.example.org/send", "--sms_http_token=t0ken"},
                   {});
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_THAT(plain.output, HasSubstr("--sms_http_url must be an https:// URL"));
  EXPECT_EQ(std::count(plain.output.begin(), plain.output.end(), '\n'), 1) << plain.output;
  auto shards = run({"--role=api", "--otp_queue_shards=0"}, {});
  EXPECT_EQ(shards.exit_code, 2);
  EXPECT_THAT(shards.output, HasSubstr("--otp_queue_shards"));
  auto claim = run({"--role=sender", "--otp_sms_provider=outbox", "--otp_email_provider=outbox",
                    "--otp_claim_idle=5s"}, {});
  EXPECT_EQ(claim.exit_code, 2);
  EXPECT_THAT(claim.output, HasSubstr("--otp_claim_idle"));
}

}  // namespace
}  // namespace tally::otp
