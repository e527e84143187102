#include "services/otp/otp_manager.h"

#include <regex>
#include <set>

#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/otp/delivery_job.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/otp_keys.h"
#include "services/otp/test_fakes.h"

namespace tally::otp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tally::testing::FakeClock;
using testing::FakeDeliveryQueue;
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
  IssueResult issue_result{true, {}, absl::InfinitePast()};
  VerifyOutcome verify_outcome;
};

class OtpManagerTest : public ::testing::Test {
 protected:
  OtpManagerTest() {
    config_.hmac_key = std::string(32, 'h');
    config_.job_key = std::string(32, 'j');
  }

  OtpManager Manager() { return OtpManager(store_, queue_, clock_, random_, config_, &metrics_); }

  // A code for a login that has proven a factor: the normal caps apply.
  static pb::SendCodeRequest Send(pb::Channel channel, std::string destination) {
    pb::SendCodeRequest r;
    r.set_directory_id("dir_1");
    r.set_user_id("usr_1");
    r.set_channel(channel);
    r.set_destination(std::move(destination));
    r.set_proven(true);
    return r;
  }

  // The message inside the sealed job of the last Enqueue.
  OutgoingMessage MessageOfLastJob(bool* notice = nullptr) {
    EXPECT_FALSE(queue_.enqueued.empty());
    auto job = JobFromFields(queue_.enqueued.back().fields);
    EXPECT_TRUE(job.ok());
    if (notice != nullptr) *notice = job->notice;
    auto message = OpenMessage(config_.job_key, *job);
    EXPECT_TRUE(message.ok());
    return message.ok() ? *message : OutgoingMessage();
  }

  // The code inside the sealed job of the last Enqueue.
  std::string CodeOfLastIssue() {
    const OutgoingMessage message = MessageOfLastJob();
    std::smatch m;
    EXPECT_TRUE(std::regex_search(message.text, m, std::regex("[0-9]{6}")));
    return m.str();
  }

  // The one window of `budget` in the last Issue (fails the test when absent).
  const BudgetWindow& Window(Budget budget, size_t issue = SIZE_MAX) {
    const IssueParams& p = store_.issued.at(issue == SIZE_MAX ? store_.issued.size() - 1 : issue);
    for (const BudgetWindow& w : p.windows) {
      if (w.budget == budget) return w;
    }
    ADD_FAILURE() << "no " << BudgetName(budget) << " budget";
    static const BudgetWindow kNone;
    return kNone;
  }

  FakeOtpStore store_;
  FakeDeliveryQueue queue_{8};
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
  ASSERT_TRUE(p.challenge.has_value());
  const ChallengeWrite& c = *p.challenge;
  const std::string code = CodeOfLastIssue();
  EXPECT_EQ(c.code_mac_hex, OtpManager::CodeMac(config_.hmac_key, c.challenge_id, code));
  EXPECT_EQ(c.code_mac_hex.size(), 64u);
  EXPECT_THAT(c.code_mac_hex, Not(HasSubstr(code)));
  EXPECT_EQ(p.member, c.challenge_id);
  EXPECT_EQ(p.now, clock_.Now());
  EXPECT_EQ(c.code_ttl, absl::Minutes(5));
  EXPECT_EQ(c.max_attempts, 5);
  // A proven login: the destination's cooldown and cap, the directory's day (counted).
  ASSERT_EQ(p.windows.size(), 1u);
  const BudgetWindow& destination = Window(Budget::kDestination);
  EXPECT_EQ(destination.cooldown, absl::Seconds(30));
  EXPECT_EQ(destination.cap, 5);
  EXPECT_EQ(destination.window, absl::Hours(1));
  EXPECT_THAT(destination.tag, Not(HasSubstr("612345678")));
  EXPECT_EQ(p.day.cap, 10000);
  EXPECT_TRUE(p.day.count);
  EXPECT_EQ(p.day.day, absl::FormatTime("%Y%m%d", clock_.Now(), absl::UTCTimeZone()));
  EXPECT_GT(p.day.end, clock_.Now());
  EXPECT_LE(p.day.end, clock_.Now() + absl::Hours(24));
  // The job goes to the directory's shard once the challenge is written; it holds no code.
  ASSERT_EQ(queue_.enqueued.size(), 1u);
  EXPECT_EQ(queue_.enqueued[0].shard, keys::ShardOf("dir_1", 8));
  for (const auto& [field, value] : queue_.enqueued[0].fields) {
    EXPECT_THAT(value, Not(HasSubstr(code)));
  }
  EXPECT_TRUE(queue_.reached.empty());

  EXPECT_EQ(response->challenge_id(), c.challenge_id);
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
  EXPECT_EQ(Window(Budget::kDestination, 0).tag, Window(Budget::kDestination, 1).tag);
  EXPECT_NE(Window(Budget::kDestination, 0).tag, Window(Budget::kDestination, 2).tag);
  EXPECT_NE(store_.issued[0].challenge->challenge_id, store_.issued[1].challenge->challenge_id);
}

// One user and channel, one slot: a resend lands in the key of the code it replaces.
TEST_F(OtpManagerTest, AChallengeIdNamesTheSlotOfItsUserAndChannel) {
  OtpManager manager = Manager();
  std::vector<pb::SendCodeRequest> sends = {Send(pb::CHANNEL_SMS, "+31612345678"),
                                            Send(pb::CHANNEL_SMS, "+31612345679"),
                                            Send(pb::CHANNEL_EMAIL, "alice@example.org"),
                                            Send(pb::CHANNEL_SMS, "+31612345678")};
  sends[3].set_user_id("usr_2");
  std::vector<std::string> slots;
  for (const auto& send : sends) {
    auto r = manager.SendCode(Caller::Anonymous(), send);
    ASSERT_TRUE(r.ok()) << r.status();
    std::optional<std::string> slot = keys::ChallengeSlot(r->challenge_id());
    ASSERT_TRUE(slot.has_value()) << r->challenge_id();
    EXPECT_TRUE(IsValidId(r->challenge_id()));
    EXPECT_THAT(r->challenge_id(), ::testing::MatchesRegex("otp_[a-z0-9]+"));
    slots.push_back(*slot);
  }
  EXPECT_EQ(slots[0], slots[1]);  // same user and channel, another number
  EXPECT_NE(slots[0], slots[2]);  // another channel
  EXPECT_NE(slots[0], slots[3]);  // another user
  EXPECT_NE(store_.issued[0].challenge->challenge_id, store_.issued[1].challenge->challenge_id);
  EXPECT_FALSE(keys::ChallengeSlot("otp_abc").has_value());
  EXPECT_FALSE(keys::ChallengeSlot(absl::StrCat("otp_", std::string(32, 'g'), "x")).has_value());
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
  for (const char* ip : {"10.0.0.256", "1.2.3", "::g", "fe80::1%eth0", "host.example.org",
                         " 10.0.0.1"}) {
    bad.push_back(Send(pb::CHANNEL_SMS, "+31612345678"));
    bad.back().set_client_ip(ip);
  }
  for (const auto& request : bad) {
    auto r = manager.SendCode(Caller::Anonymous(), request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << request.ShortDebugString();
    EXPECT_THAT(r.status().message(), Not(HasSubstr("612345678")));
    EXPECT_THAT(r.status().message(), Not(HasSubstr("eth0")));
  }
  EXPECT_TRUE(store_.issued.empty());
  EXPECT_TRUE(queue_.enqueued.empty());
}

pb::SendCodeRequest SendToNobody(pb::Channel channel, std::string key, bool proven = true) {
  pb::SendCodeRequest r;
  r.set_directory_id("dir_1");
  r.set_channel(channel);
  r.set_no_recipient(true);
  r.set_no_recipient_key(std::move(key));
  r.set_proven(proven);
  return r;
}

TEST_F(OtpManagerTest, ASendToNobodyIsThrottledLikeADestinationWithoutCodeOrJob) {
  OtpManager manager = Manager();
  auto response = manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(store_.issued.size(), 1u);
  const IssueParams p = store_.issued[0];
  ASSERT_TRUE(p.challenge.has_value());
  EXPECT_TRUE(p.challenge->no_recipient);
  EXPECT_TRUE(p.challenge->user_id.empty());
  EXPECT_TRUE(p.challenge->destination.empty());
  // Nothing to deliver and nothing a code could match; the same round trip to the shard.
  EXPECT_TRUE(queue_.enqueued.empty());
  EXPECT_THAT(queue_.reached, ::testing::ElementsAre("dir_1"));
  EXPECT_TRUE(p.challenge->code_mac_hex.empty());
  // The service's own limits, as for any send; the key only as a keyed digest.
  EXPECT_EQ(Window(Budget::kDestination).cooldown, config_.cooldown);
  EXPECT_EQ(Window(Budget::kDestination).cap, config_.destination_hourly_cap);
  EXPECT_EQ(p.day.cap, config_.directory_daily_cap);
  EXPECT_FALSE(p.day.count);
  EXPECT_TRUE(p.day.answer_as_counted);
  EXPECT_EQ(p.challenge->max_attempts, config_.max_attempts);
  EXPECT_EQ(Window(Budget::kDestination).tag.size(), 32u);
  EXPECT_THAT(Window(Budget::kDestination).tag, Not(HasSubstr("bob")));
  // The answer has a real send's shape, without a destination to show.
  EXPECT_EQ(response->challenge_id(), p.challenge->challenge_id);
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
  const std::string tag = Window(Budget::kDestination, 0).tag;
  EXPECT_EQ(tag, Window(Budget::kDestination, 1).tag);
  EXPECT_NE(tag, Window(Budget::kDestination, 2).tag);
  EXPECT_NE(tag, Window(Budget::kDestination, 3).tag);
  EXPECT_NE(tag, Window(Budget::kDestination, 4).tag);
  EXPECT_FALSE(store_.issued[4].challenge->no_recipient);

  // Refusals read as a real send's.
  store_.issue_result = {false, {Budget::kDestination, true, absl::Seconds(12)},
                         absl::InfinitePast()};
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
  store_.issue_result = {false, {Budget::kDestination, true, absl::Milliseconds(26400)},
                         absl::InfinitePast()};
  OtpManager manager = Manager();
  auto r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("retry in 27s"));
  store_.issue_result.refusal = {Budget::kDestination, false, absl::Minutes(40)};
  r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("last hour; retry in 2400s"));
  store_.issue_result.refusal = {Budget::kDirectoryDay, false, absl::Hours(2)};
  r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_THAT(r.status().message(), HasSubstr("directory today"));
  EXPECT_TRUE(queue_.enqueued.empty());  // nothing sent
}

// Every budget refusal carries what a caller acts on: SEND_BUDGET_EXHAUSTED naming the budget,
// and RetryInfo with the wait (whole seconds, rounded up); it is counted by budget and channel.
TEST_F(OtpManagerTest, EveryRefusalCarriesTheBudgetAndRetryInfo) {
  OtpManager manager = Manager();
  const struct {
    Budget budget;
    bool cooldown;
    const char* words;
  } cases[] = {
      {Budget::kDestination, true, "a code was just sent to this destination"},
      {Budget::kDestination, false, "too many codes sent to this destination in the last hour"},
      {Budget::kDirectoryDay, false, "too many codes for this directory today"},
      {Budget::kUnprovenUser, true, "a code was just sent to this destination"},
      {Budget::kUnprovenUser, false, "too many codes for this user before sign-in"},
      {Budget::kUnprovenClientIp, false, "too many codes from this client address"},
      {Budget::kUnprovenDirectory, false, "too many codes in this directory before sign-in"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(BudgetName(c.budget));
    store_.issue_result = {false, {c.budget, c.cooldown, absl::Milliseconds(61500)},
                           absl::InfinitePast()};
    auto r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
    ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(r.status().message(), HasSubstr(c.words));
    EXPECT_THAT(r.status().message(), HasSubstr("; retry in 62s"));
    EXPECT_EQ(ErrorReason(r.status()), "SEND_BUDGET_EXHAUSTED");
    EXPECT_EQ(ErrorInfoOf(r.status())->metadata().at("budget"), BudgetName(c.budget));
    EXPECT_EQ(RetryDelayOf(r.status()), absl::Seconds(62));
  }
  const std::string metrics = [&] {
    std::string text;
    for (const auto& family : registry_.Collect()) {
      if (family.name != "tally_otp_sends_refused_total") continue;
      for (const auto& m : family.metric) {
        for (const auto& label : m.label) absl::StrAppend(&text, label.name, "=", label.value, ",");
        absl::StrAppend(&text, m.counter.value, ";");
      }
    }
    return text;
  }();
  EXPECT_THAT(metrics, HasSubstr("budget=unproven_client_ip,channel=sms,1;"));
  EXPECT_THAT(metrics, HasSubstr("budget=destination,channel=sms,2;"));
  EXPECT_TRUE(queue_.enqueued.empty());
}

// Before a factor is proven a code draws from the small budgets of its own (per user, client
// address and directory, per channel), never from the destination's or the directory's day;
// a code to nobody draws from exactly the same ones.
TEST_F(OtpManagerTest, BeforeProofACodeDrawsFromItsOwnBudgets) {
  config_.unproven_user_hourly_cap = 2;
  config_.unproven_client_ip_hourly_cap = 7;
  config_.unproven_directory_hourly_cap = 40;
  OtpManager manager = Manager();
  pb::SendCodeRequest known = Send(pb::CHANNEL_SMS, "+31612345678");
  known.set_proven(false);
  known.set_client_ip("203.0.113.9");
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), known).ok());
  pb::SendCodeRequest unknown = SendToNobody(pb::CHANNEL_SMS, "n:bob", /*proven=*/false);
  unknown.set_client_ip("203.0.113.9");
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), unknown).ok());
  ASSERT_EQ(store_.issued.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const IssueParams& p = store_.issued[i];
    std::vector<Budget> budgets;
    for (const BudgetWindow& w : p.windows) budgets.push_back(w.budget);
    EXPECT_THAT(budgets, ::testing::ElementsAre(Budget::kUnprovenUser, Budget::kUnprovenClientIp,
                                                Budget::kUnprovenDirectory));
    EXPECT_EQ(Window(Budget::kUnprovenUser, i).cap, 2);
    EXPECT_EQ(Window(Budget::kUnprovenUser, i).cooldown, config_.cooldown);
    EXPECT_EQ(Window(Budget::kUnprovenClientIp, i).cap, 7);
    EXPECT_EQ(Window(Budget::kUnprovenClientIp, i).cooldown, absl::ZeroDuration());
    EXPECT_EQ(Window(Budget::kUnprovenDirectory, i).cap, 40);
    EXPECT_EQ(Window(Budget::kUnprovenDirectory, i).tag, "sms");
    // The directory's day is checked, never counted, and answers as it is.
    EXPECT_EQ(p.day.cap, config_.directory_daily_cap);
    EXPECT_FALSE(p.day.count);
    EXPECT_FALSE(p.day.answer_as_counted);
    EXPECT_THAT(Window(Budget::kUnprovenClientIp, i).tag, Not(HasSubstr("203.0.113")));
    EXPECT_THAT(Window(Budget::kUnprovenUser, i).tag, Not(HasSubstr("bob")));
  }
  // One address, one budget, whoever the code is for; the user budgets differ.
  EXPECT_EQ(Window(Budget::kUnprovenClientIp, 0).tag, Window(Budget::kUnprovenClientIp, 1).tag);
  EXPECT_NE(Window(Budget::kUnprovenUser, 0).tag, Window(Budget::kUnprovenUser, 1).tag);
  // None of them is a proven budget's tag.
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678")).ok());
  std::set<std::string> proven = {Window(Budget::kDestination).tag};
  for (size_t i = 0; i < 2; ++i) {
    for (const BudgetWindow& w : store_.issued[i].windows) EXPECT_EQ(proven.count(w.tag), 0u);
  }

  // An empty client_ip: no per-address budget. Another channel: other budgets.
  known.clear_client_ip();
  known.set_channel(pb::CHANNEL_EMAIL);
  known.set_destination("alice@example.org");
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), known).ok());
  std::vector<Budget> budgets;
  for (const BudgetWindow& w : store_.issued.back().windows) budgets.push_back(w.budget);
  EXPECT_THAT(budgets,
              ::testing::ElementsAre(Budget::kUnprovenUser, Budget::kUnprovenDirectory));
  EXPECT_EQ(Window(Budget::kUnprovenDirectory).tag, "email");
  EXPECT_NE(Window(Budget::kUnprovenUser).tag, Window(Budget::kUnprovenUser, 0).tag);
}

// An IPv6 subscriber holds a whole /64: its addresses share one budget; IPv4 written as IPv6
// is the IPv4 address.
TEST_F(OtpManagerTest, ClientAddressesShareABudgetPerIpv4AddressAndPerIpv6Slash64) {
  OtpManager manager = Manager();
  auto tag = [&](const std::string& ip) {
    pb::SendCodeRequest r = SendToNobody(pb::CHANNEL_SMS, "n:x", /*proven=*/false);
    r.set_client_ip(ip);
    EXPECT_TRUE(manager.SendCode(Caller::Anonymous(), r).ok()) << ip;
    return Window(Budget::kUnprovenClientIp).tag;
  };
  EXPECT_EQ(tag("2001:db8:1:2::1"), tag("2001:0db8:0001:0002:ffff:ffff:ffff:fffe"));
  EXPECT_NE(tag("2001:db8:1:2::1"), tag("2001:db8:1:3::1"));
  EXPECT_EQ(tag("192.0.2.1"), tag("::ffff:192.0.2.1"));
  EXPECT_NE(tag("192.0.2.1"), tag("192.0.2.2"));
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

TEST_F(OtpManagerTest, DeadLettersAreForThePlatformOnlyAPageAtATime) {
  OtpManager manager = Manager();
  EXPECT_EQ(manager.ListDeadLetters(Caller::Anonymous(), {}).status().code(),
            absl::StatusCode::kUnauthenticated);
  for (int i = 0; i < 3; ++i) {
    DeadLetter letter;
    letter.directory_id = "dir_1";
    letter.channel = i == 0 ? "email" : "sms";
    letter.reason = absl::StrCat("permanent: HTTP 40", i);
    queue_.buried.push_back(letter);
  }
  pb::ListDeadLettersRequest request;
  request.set_page_size(2);
  request.set_page_token("from-before");
  auto page = manager.ListDeadLetters(Caller::Platform(), request);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->dead_letters_size(), 2);
  EXPECT_EQ(page->dead_letters(0).channel(), pb::CHANNEL_EMAIL);
  EXPECT_EQ(page->dead_letters(1).reason(), "permanent: HTTP 401");
  EXPECT_EQ(page->next_page_token(), "more");
  EXPECT_THAT(queue_.page_tokens, ::testing::ElementsAre("from-before"));
  request.set_page_size(1001);
  EXPECT_EQ(manager.ListDeadLetters(Caller::Platform(), request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The challenge is written first, then its job is appended to the shard: when the append fails
// the caller hears UNAVAILABLE (and asks again), never a code reported sent without its job.
TEST_F(OtpManagerTest, AJobThatCannotBeQueuedIsUnavailableNotSent) {
  queue_.status = absl::UnavailableError("redis unavailable");
  OtpManager manager = Manager();
  auto r = manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.issued.size(), 1u);
  // A code to nobody makes the same round trip and fails alike.
  r = manager.SendCode(Caller::Anonymous(), SendToNobody(pb::CHANNEL_SMS, "n:bob"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

pb::SendNoticeRequest Notice(pb::Channel channel, std::string destination, pb::NoticeKind kind) {
  pb::SendNoticeRequest r;
  r.set_directory_id("dir_1");
  r.set_channel(channel);
  r.set_destination(std::move(destination));
  r.set_kind(kind);
  return r;
}

TEST_F(OtpManagerTest, ANoticeDrawsFromItsOwnBudgetAndIsQueuedAsANotice) {
  OtpManager manager = Manager();
  auto r = manager.SendNotice(Caller::Anonymous(), Notice(pb::CHANNEL_SMS, "+31612345678",
                                                          pb::NOTICE_CONTACT_CHANGED));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(store_.issued.size(), 1u);
  const IssueParams p = store_.issued[0];
  EXPECT_FALSE(p.challenge.has_value());
  EXPECT_EQ(p.day.cap, 0);
  ASSERT_EQ(p.windows.size(), 1u);
  EXPECT_EQ(p.windows[0].budget, Budget::kNoticeDestination);
  EXPECT_EQ(p.windows[0].cap, config_.notice_destination_hourly_cap);
  EXPECT_EQ(p.windows[0].cooldown, absl::ZeroDuration());
  EXPECT_THAT(p.windows[0].tag, Not(HasSubstr("612345678")));
  EXPECT_THAT(p.member, ::testing::StartsWith("ntc_"));
  // Not a code's budget: the same destination's code budget has another tag.
  ASSERT_TRUE(manager.SendCode(Caller::Anonymous(), Send(pb::CHANNEL_SMS, "+31612345678")).ok());
  EXPECT_NE(p.windows[0].tag, Window(Budget::kDestination).tag);

  ASSERT_EQ(queue_.enqueued.size(), 2u);
  auto job = JobFromFields(queue_.enqueued[0].fields);
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE(job->notice);
  EXPECT_EQ(job->challenge_id, store_.issued[0].member);
  EXPECT_EQ(job->expire_time, clock_.Now() + kNoticeLifetime);
  EXPECT_EQ(job->masked_destination, "+31*******78");
  EXPECT_EQ(queue_.enqueued[0].shard, keys::ShardOf("dir_1", 8));
  auto message = OpenMessage(config_.job_key, *job);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message->destination, "+31612345678");
  EXPECT_THAT(message->text, HasSubstr("phone number or e-mail address of your account"));
  EXPECT_FALSE(std::regex_search(message->text, std::regex("[0-9]{6}")));

  // Refused: the same error shape as a code's, nothing queued.
  store_.issue_result = {false, {Budget::kNoticeDestination, false, absl::Seconds(90)},
                         absl::InfinitePast()};
  auto refused = manager.SendNotice(Caller::Anonymous(), Notice(pb::CHANNEL_SMS, "+31612345678",
                                                                pb::NOTICE_DEVICE_REMEMBERED));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "too many notices sent to this destination in the last hour; retry in 90s");
  EXPECT_EQ(ErrorReason(refused.status()), "SEND_BUDGET_EXHAUSTED");
  EXPECT_EQ(RetryDelayOf(refused.status()), absl::Seconds(90));
  EXPECT_EQ(queue_.enqueued.size(), 2u);
}

TEST_F(OtpManagerTest, NoticesSayWhatHappenedInEnglishAndDutchByMailAndSms) {
  const struct {
    pb::NoticeKind kind;
    const char* english;
    const char* dutch;
  } kinds[] = {
      {pb::NOTICE_CONTACT_CHANGED, "contact details were changed",
       "contactgegevens zijn gewijzigd"},
      {pb::NOTICE_RECOVERY_CODE_USED, "recovery code", "herstelcode"},
      {pb::NOTICE_DEVICE_REMEMBERED, "device was", "apparaat"},
  };
  for (Language language : {Language::kEnglish, Language::kDutch}) {
    config_.language = language;
    OtpManager manager = Manager();
    std::set<std::string> texts;
    for (const auto& k : kinds) {
      for (pb::Channel channel : {pb::CHANNEL_SMS, pb::CHANNEL_EMAIL}) {
        SCOPED_TRACE(absl::StrCat(pb::NoticeKind_Name(k.kind), " ", channel));
        ASSERT_TRUE(manager
                        .SendNotice(Caller::Anonymous(),
                                    Notice(channel,
                                           channel == pb::CHANNEL_SMS ? "+31612345678"
                                                                      : "alice@example.org",
                                           k.kind))
                        .ok());
        bool notice = false;
        const OutgoingMessage m = MessageOfLastJob(&notice);
        EXPECT_TRUE(notice);
        const std::string words = language == Language::kDutch ? k.dutch : k.english;
        if (channel == pb::CHANNEL_EMAIL) {
          EXPECT_THAT(absl::AsciiStrToLower(m.subject), HasSubstr(words));
          EXPECT_THAT(m.text, HasSubstr(language == Language::kDutch ? "Hallo," : "Hello,"));
        } else {
          EXPECT_TRUE(m.subject.empty());
        }
        EXPECT_THAT(m.text,
                    HasSubstr(language == Language::kDutch ? "beheerder" : "administrator"));
        texts.insert(m.text);
      }
    }
    EXPECT_EQ(texts.size(), 6u);  // each kind and channel its own words
  }
}

TEST_F(OtpManagerTest, ANoticeNeedsAKindAndADestinationThatFitsTheChannel) {
  OtpManager manager = Manager();
  std::vector<pb::SendNoticeRequest> bad = {
      Notice(pb::CHANNEL_SMS, "+31612345678", pb::NOTICE_KIND_UNSPECIFIED),
      Notice(pb::CHANNEL_SMS, "+31612345678", static_cast<pb::NoticeKind>(99)),
      Notice(pb::CHANNEL_UNSPECIFIED, "+31612345678", pb::NOTICE_CONTACT_CHANGED),
      Notice(pb::CHANNEL_SMS, "alice@example.org", pb::NOTICE_CONTACT_CHANGED),
      Notice(pb::CHANNEL_EMAIL, "+31612345678", pb::NOTICE_CONTACT_CHANGED)};
  bad.push_back(Notice(pb::CHANNEL_SMS, "+31612345678", pb::NOTICE_CONTACT_CHANGED));
  bad.back().set_directory_id("{dir}");
  for (const auto& request : bad) {
    auto r = manager.SendNotice(Caller::Anonymous(), request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << request.ShortDebugString();
    EXPECT_THAT(r.status().message(), Not(HasSubstr("612345678")));
  }
  EXPECT_TRUE(store_.issued.empty());
  EXPECT_TRUE(queue_.enqueued.empty());
}

}  // namespace
}  // namespace tally::otp
