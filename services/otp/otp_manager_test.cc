#include "services/otp/otp_manager.h"

#include <regex>

#include "common/testing/fake_clock.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/otp/delivery_job.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/test_fakes.h"

namespace tally::otp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tally::testing::FakeClock;
using testing::FakeRandom;

// Records what the manager asks for and answers as told; the atomic rules themselves are the
// Redis scripts' and are tested against real Redis (tests/integration/otp).
class FakeOtpStore final : public OtpStore {
 public:
  absl::StatusOr<IssueResult> Issue(const IssueParams& params) override {
    issued.push_back(params);
    if (!status.ok()) return status;
    return issue_result;
  }
  absl::StatusOr<VerifyOutcome> Verify(absl::string_view dir, absl::string_view cid,
                                       absl::string_view mac, absl::Time now) override {
    verified.push_back({std::string(dir), std::string(cid), std::string(mac), now});
    if (!status.ok()) return status;
    return verify_outcome;
  }
  absl::Status Ping() override { return status; }

  struct VerifyCall {
    std::string dir, cid, mac;
    absl::Time now;
  };
  std::vector<IssueParams> issued;
  std::vector<VerifyCall> verified;
  absl::Status status;
  IssueResult issue_result{true, "", absl::ZeroDuration(), "1-0", absl::InfinitePast()};
  VerifyOutcome verify_outcome;
};

class OtpManagerTest : public ::testing::Test {
 protected:
  OtpManagerTest() {
    config_.hmac_key = std::string(32, 'h');
    config_.job_key = std::string(32, 'j');
  }

  OtpManager Manager() { return OtpManager(store_, nullptr, clock_, random_, config_, &metrics_); }

  static pb::SendCodeRequest Send(pb::Channel channel, std::string destination) {
    pb::SendCodeRequest r;
    r.set_directory_id("dir_1");
    r.set_user_id("usr_1");
    r.set_channel(channel);
    r.set_destination(std::move(destination));
    return r;
  }

  // The code inside the sealed job of the last Issue.
  std::string CodeOfLastIssue() {
    std::vector<std::pair<std::string, std::string>> fields = store_.issued.back().job_fields;
    auto job = JobFromFields(fields);
    EXPECT_TRUE(job.ok());
    auto message = OpenMessage(config_.job_key, *job);
    EXPECT_TRUE(message.ok());
    std::smatch m;
    EXPECT_TRUE(std::regex_search(message->text, m, std::regex("[0-9]{6}")));
    return m.str();
  }

  FakeOtpStore store_;
  FakeClock clock_;
  FakeRandom random_;
  OtpConfig config_;
  prometheus::Registry registry_;
  OtpMetrics metrics_{registry_};
};

TEST_F(OtpManagerTest, SendCodeWritesAMacNeverTheCodeAndTimesFromTheClock) {
  OtpManager manager = Manager();
  auto response = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(store_.issued.size(), 1u);
  const IssueParams& p = store_.issued[0];
  const std::string code = CodeOfLastIssue();
  EXPECT_EQ(p.code_mac_hex, OtpManager::CodeMac(config_.hmac_key, p.challenge_id, code));
  EXPECT_EQ(p.code_mac_hex.size(), 64u);
  EXPECT_THAT(p.code_mac_hex, Not(HasSubstr(code)));
  EXPECT_EQ(p.now, clock_.Now());
  EXPECT_EQ(p.code_ttl, absl::Minutes(5));
  EXPECT_EQ(p.max_attempts, 5);
  EXPECT_EQ(p.cooldown, absl::Seconds(30));
  EXPECT_EQ(p.destination_hourly_cap, 5);
  EXPECT_THAT(p.destination_tag, Not(HasSubstr("612345678")));
  EXPECT_EQ(p.day, absl::FormatTime("%Y%m%d", clock_.Now(), absl::UTCTimeZone()));
  EXPECT_GT(p.day_end, clock_.Now());
  EXPECT_LE(p.day_end, clock_.Now() + absl::Hours(24));
  for (const auto& [field, value] : p.job_fields) EXPECT_THAT(value, Not(HasSubstr(code)));

  EXPECT_EQ(response->challenge_id(), p.challenge_id);
  EXPECT_EQ(FromProtoTime(response->expire_time()), clock_.Now() + absl::Minutes(5));
  EXPECT_EQ(FromProtoTime(response->resend_after()), clock_.Now() + absl::Seconds(30));
  EXPECT_EQ(response->masked_destination(), "+31*******78");
}

TEST_F(OtpManagerTest, ResendAfterIsTheLaterOfCooldownAndWhatTheCapsAllow) {
  store_.issue_result.resend_after = clock_.Now() + absl::Minutes(42);
  OtpManager manager = Manager();
  auto response = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(FromProtoTime(response->resend_after()), clock_.Now() + absl::Minutes(42));
}

TEST_F(OtpManagerTest, SameDestinationSameTagWhateverTheCaseOfAnAddress) {
  OtpManager manager = Manager();
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_EMAIL, "Alice@Example.org")).ok());
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_EMAIL, "alice@example.org")).ok());
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_EMAIL, "bob@example.org")).ok());
  EXPECT_EQ(store_.issued[0].destination_tag, store_.issued[1].destination_tag);
  EXPECT_NE(store_.issued[0].destination_tag, store_.issued[2].destination_tag);
  EXPECT_NE(store_.issued[0].challenge_id, store_.issued[1].challenge_id);
}

TEST_F(OtpManagerTest, BadInputIsInvalidArgumentAndNothingIsWritten) {
  OtpManager manager = Manager();
  std::vector<pb::SendCodeRequest> bad = {
      Send(pb::CHANNEL_UNSPECIFIED, "+31612345678"), Send(pb::CHANNEL_SMS, "0612345678"),
      Send(pb::CHANNEL_SMS, "alice@example.org"), Send(pb::CHANNEL_EMAIL, "+31612345678"),
      Send(pb::CHANNEL_EMAIL, std::string(300, 'a') + "@example.org")};
  bad.push_back(Send(pb::CHANNEL_SMS, "+31612345678"));
  bad.back().set_user_id(std::string(200, 'u'));
  bad.push_back(Send(pb::CHANNEL_SMS, "+31612345678"));
  bad.back().set_directory_id("{dir}");
  bad.push_back(Send(pb::CHANNEL_SMS, "+31612345678"));
  bad.back().set_user_id("");
  for (const auto& request : bad) {
    auto r = manager.SendCode(Caller::Anonymous(), request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << request.ShortDebugString();
    EXPECT_THAT(r.status().message(), Not(HasSubstr("612345678")));
  }
  EXPECT_TRUE(store_.issued.empty());
}

pb::SendCodeRequest SendToNobody(pb::Channel channel, std::string key) {
  pb::SendCodeRequest r;
  r.set_directory_id("dir_1");
  r.set_channel(channel);
  r.set_no_recipient(true);
  r.set_no_recipient_key(std::move(key));
  return r;
}

TEST_F(OtpManagerTest, ASendToNobodyIsThrottledLikeADestinationWithoutCodeOrJob) {
  OtpManager manager = Manager();
  auto response = manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(store_.issued.size(), 1u);
  const IssueParams& p = store_.issued[0];
  EXPECT_TRUE(p.no_recipient);
  EXPECT_TRUE(p.user_id.empty());
  EXPECT_TRUE(p.destination.empty());
  // Nothing to deliver and nothing a code could match.
  EXPECT_TRUE(p.job_fields.empty());
  EXPECT_TRUE(p.code_mac_hex.empty());
  // The service's own limits, as for any send; the key only as a keyed digest.
  EXPECT_EQ(p.cooldown, config_.cooldown);
  EXPECT_EQ(p.destination_hourly_cap, config_.destination_hourly_cap);
  EXPECT_EQ(p.directory_daily_cap, config_.directory_daily_cap);
  EXPECT_EQ(p.max_attempts, config_.max_attempts);
  EXPECT_EQ(p.destination_tag.size(), 32u);
  EXPECT_THAT(p.destination_tag, Not(HasSubstr("bob")));
  // The answer has a real send's shape, without a destination to show.
  EXPECT_EQ(response->challenge_id(), p.challenge_id);
  EXPECT_EQ(FromProtoTime(response->expire_time()), clock_.Now() + config_.code_ttl);
  EXPECT_EQ(FromProtoTime(response->resend_after()), clock_.Now() + config_.cooldown);
  EXPECT_EQ(response->masked_destination(), "");

  // One key and channel, one tag; another channel or key has its own, and none is a
  // destination's.
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:bob")).ok());
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_EMAIL, "n:bob")).ok());
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:eve")).ok());
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678")).ok());
  ASSERT_EQ(store_.issued.size(), 5u);
  EXPECT_EQ(store_.issued[0].destination_tag, store_.issued[1].destination_tag);
  EXPECT_NE(store_.issued[0].destination_tag, store_.issued[2].destination_tag);
  EXPECT_NE(store_.issued[0].destination_tag, store_.issued[3].destination_tag);
  EXPECT_NE(store_.issued[0].destination_tag, store_.issued[4].destination_tag);
  EXPECT_FALSE(store_.issued[4].no_recipient);

  // Refusals read as a real send's.
  store_.issue_result = {false, "cooldown", absl::Seconds(12), "", absl::InfinitePast()};
  auto refused = manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(), "a code was just sent to this destination; retry in 12s");
}

TEST_F(OtpManagerTest, ASendToNobodyTakesAKeyAndNoUserOrDestination) {
  OtpManager manager = Manager();
  std::vector<pb::SendCodeRequest> bad = {SendToNobody(pb::CHANNEL_SMS, ""),
                                          SendToNobody(pb::CHANNEL_SMS, std::string(513, 'k')),
                                          SendToNobody(pb::CHANNEL_UNSPECIFIED, "n:bob")};
  bad.push_back(SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  bad.back().set_user_id("usr_1");
  bad.push_back(SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  bad.back().set_destination("+31612345678");
  bad.push_back(Send(pb::CHANNEL_SMS, "+31612345678"));
  bad.back().set_no_recipient_key("n:bob");  // a key without no_recipient
  for (const auto& request : bad) {
    auto r = manager.SendCode(Caller::Anonymous(), request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << request.ShortDebugString();
    EXPECT_THAT(r.status().message(), Not(HasSubstr("bob")));
  }
  EXPECT_TRUE(store_.issued.empty());
  EXPECT_TRUE(
      manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_EMAIL, std::string(512, 'k')))
          .ok());
}

TEST_F(OtpManagerTest, RefusalIsResourceExhaustedWithTheDelay) {
  store_.issue_result = {false, "cooldown", absl::Milliseconds(26400), "", absl::InfinitePast()};
  OtpManager manager = Manager();
  auto r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("retry in 27s"));
  store_.issue_result.refusal = "destination_cap";
  store_.issue_result.retry_after = absl::Minutes(40);
  r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("last hour; retry in 2400s"));
  store_.issue_result.refusal = "directory_cap";
  r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_THAT(r.status().message(), HasSubstr("directory today"));
}

TEST_F(OtpManagerTest, StoreDownIsUnavailable) {
  store_.status = absl::UnavailableError("redis unavailable");
  OtpManager manager = Manager();
  EXPECT_EQ(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  pb::VerifyCodeRequest v;
  v.set_directory_id("dir_1");
  v.set_challenge_id("otp_1");
  v.set_code("123456");
  EXPECT_EQ(manager.VerifyCode(Caller::Anonymous(), v).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(OtpManagerTest, VerifyChecksTheMacOfTheGivenCodeAtTheClocksTime) {
  OtpManager manager = Manager();
  store_.verify_outcome = {pb::VERIFY_RESULT_WRONG_CODE, 3, "usr_1", pb::CHANNEL_SMS};
  pb::VerifyCodeRequest v;
  v.set_directory_id("dir_1");
  v.set_challenge_id("otp_abc");
  v.set_code("042042");
  clock_.Advance(absl::Seconds(7));
  auto r = manager.VerifyCode(Caller::Anonymous(), v);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->result(), pb::VERIFY_RESULT_WRONG_CODE);
  EXPECT_EQ(r->attempts_left(), 3);
  EXPECT_EQ(r->user_id(), "usr_1");
  ASSERT_EQ(store_.verified.size(), 1u);
  EXPECT_EQ(store_.verified[0].mac, OtpManager::CodeMac(config_.hmac_key, "otp_abc", "042042"));
  EXPECT_EQ(store_.verified[0].now, clock_.Now());

  store_.verify_outcome = {pb::VERIFY_RESULT_EXPIRED, 0, "usr_1", pb::CHANNEL_SMS};
  r = manager.VerifyCode(Caller::Anonymous(), v);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->user_id(), "");
  EXPECT_EQ(r->channel(), pb::CHANNEL_UNSPECIFIED);
}

TEST_F(OtpManagerTest, MalformedCodesAndIdsAreInvalidArgument) {
  OtpManager manager = Manager();
  for (const char* code : {"", "12a456", " 123456", "12345678901234567", "١٢٣٤٥٦"}) {
    pb::VerifyCodeRequest v;
    v.set_directory_id("dir_1");
    v.set_challenge_id("otp_1");
    v.set_code(code);
    EXPECT_EQ(manager.VerifyCode(Caller::Anonymous(), v).status().code(),
              absl::StatusCode::kInvalidArgument)
        << code;
  }
  pb::VerifyCodeRequest v;
  v.set_directory_id("dir_1");
  v.set_challenge_id("otp:1");
  v.set_code("123456");
  EXPECT_EQ(manager.VerifyCode(Caller::Anonymous(), v).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_.verified.empty());
}

TEST_F(OtpManagerTest, DeadLettersAreForThePlatformOnly) {
  OtpManager manager = Manager();
  EXPECT_EQ(manager.ListDeadLetters(Caller::Anonymous(), {}).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager.ListDeadLetters(Caller::Platform(), {}).status().code(),
            absl::StatusCode::kUnimplemented);  // no queue wired in this test
}

}  // namespace
}  // namespace tally::otp
