// LoginManager with in-memory stores (services/orchestrator/testing: the fakes the store
// contract holds to the Redis stores' behaviour) and fakes for every peer, with an injected
// clock: the login rules of DESIGN.md §1/§4 and issue 6.

#include "services/orchestrator/login_manager.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/testing/in_memory_revocation_store.h"
#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_support.h"
#include "common/util/proto_time.h"
#include "common/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/testing/fake_peers.h"
#include "services/orchestrator/testing/in_memory_login_store.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
using cpb::AUTH_METHOD_EMAIL_OTP;
using cpb::AUTH_METHOD_PASSKEY;
using cpb::AUTH_METHOD_PASSWORD;
using cpb::AUTH_METHOD_RECOVERY_CODE;
using cpb::AUTH_METHOD_SMS_OTP;
using cpb::AUTH_METHOD_TOTP;
using cpb::AUTH_METHOD_TRUSTED_DEVICE;
using ::tally::orchestrator::testing::FakeCredentials;
using ::tally::orchestrator::testing::FakeOtp;
using ::tally::orchestrator::testing::FakePasskeys;
using ::tally::orchestrator::testing::FakePolicy;
using ::tally::testing::InMemoryRevocationStore;
using ::tally::orchestrator::testing::InMemoryLoginStore;
using ::tally::orchestrator::testing::Settings;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<cpb::AuthMethod> Offered(const pb::LoginState& s) {
  std::vector<cpb::AuthMethod> methods;
  for (const auto& mp : s.offered_methods()) methods.push_back(mp.method());
  return methods;
}
std::vector<cpb::AuthMethod> Completed(const pb::LoginState& s) {
  std::vector<cpb::AuthMethod> methods;
  for (int m : s.completed_methods()) methods.push_back(static_cast<cpb::AuthMethod>(m));
  return methods;
}

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

class LoginManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "dir_" + tally::testing::UniqueSuffix();
    keys_ = *SigningKeys::FromKeys({*Ed25519PrivateKey::Generate()}, "tally-test", clock_);
    sessions_ = std::make_unique<SessionManager>(keys_, revocations_, clock_, CsprngRandom::Get(),
                                                 absl::Hours(8));
    otp_ = std::make_unique<FakeOtp>(clock_);
    // One store for both: in Redis the logins and their lockout share keys and scripts.
    manager_ = std::make_unique<LoginManager>(store_, store_, policy_, credentials_, *otp_,
                                              passkeys_, *sessions_, clock_, CsprngRandom::Get(),
                                              LoginConfig{}, nullptr);
    policy_.Set(dir_, Settings(30, 20, 10, 10, 30));  // FREEMIUM
    credentials_.Add(dir_, "usr_alice", "alice", "correct horse", "+31612345678",
                     "alice@example.com", {"admin", "user"});
    credentials_.Add(dir_, "usr_pat", "pat", "pat's password", "", "pat@example.com");
    credentials_.Add(dir_, "usr_kim", "kim", "", "", "");  // passkey only
    passkeys_.AddPasskey("usr_kim");
  }

  pb::LoginState Start(const std::string& username) {
    pb::StartLoginRequest r;
    r.set_directory_id(dir_);
    r.set_username(username);
    auto response = manager_->StartLogin(r, kNoDeadline);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->state() : pb::LoginState();
  }
  absl::StatusOr<pb::LoginState> Password(const pb::LoginState& s, const std::string& password) {
    pb::SubmitPasswordRequest r;
    r.set_login_id(s.login_id());
    r.set_password(password);
    auto response = manager_->SubmitPassword(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  absl::StatusOr<pb::LoginState> Send(const pb::LoginState& s, otppb::Channel channel) {
    pb::SendOtpRequest r;
    r.set_login_id(s.login_id());
    r.set_channel(channel);
    auto response = manager_->SendOtp(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  absl::StatusOr<pb::LoginState> Verify(const pb::LoginState& s, const std::string& code) {
    pb::VerifyOtpRequest r;
    r.set_login_id(s.login_id());
    r.set_code(code);
    auto response = manager_->VerifyOtp(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  absl::StatusOr<pb::StartPasskeyResponse> StartPasskey(const pb::LoginState& s) {
    pb::StartPasskeyRequest r;
    r.set_login_id(s.login_id());
    return manager_->StartPasskey(r, kNoDeadline);
  }
  absl::StatusOr<pb::LoginState> FinishPasskey(const pb::LoginState& s, const std::string& json) {
    pb::FinishPasskeyRequest r;
    r.set_login_id(s.login_id());
    r.set_authentication_response_json(json);
    auto response = manager_->FinishPasskey(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  absl::StatusOr<pb::LoginState> Totp(const pb::LoginState& s, const std::string& code) {
    pb::SubmitTotpRequest r;
    r.set_login_id(s.login_id());
    r.set_code(code);
    auto response = manager_->SubmitTotp(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  absl::StatusOr<pb::LoginState> RecoveryCode(const pb::LoginState& s, const std::string& code) {
    pb::SubmitRecoveryCodeRequest r;
    r.set_login_id(s.login_id());
    r.set_code(code);
    auto response = manager_->SubmitRecoveryCode(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }
  // FREEMIUM with the issue 21 methods: TOTP and recovery codes worth 10 each.
  void EnableTotpAndRecoveryCodes() {
    ::tally::policy::v1::AuthSettings settings = Settings(30, 20, 10, 10, 30);
    for (cpb::AuthMethod method : {AUTH_METHOD_TOTP, AUTH_METHOD_RECOVERY_CODE}) {
      cpb::MethodPoints* mp = settings.add_method_points();
      mp->set_method(method);
      mp->set_points(10);
    }
    policy_.Set(dir_, settings);
  }
  absl::StatusOr<pb::LoginState> Get(const pb::LoginState& s) {
    pb::GetLoginRequest r;
    r.set_login_id(s.login_id());
    auto response = manager_->GetLogin(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }

  // Alice's password + SMS login (30 points): its session.
  pb::Session AliceSession() {
    pb::LoginState s = Start("alice");
    EXPECT_TRUE(Password(s, "correct horse").ok());
    EXPECT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
    absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("+31612345678"));
    EXPECT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done.value_or(pb::LoginState()).status(), pb::LOGIN_STATUS_SUCCEEDED);
    return done.value_or(pb::LoginState()).session();
  }
  absl::StatusOr<pb::LoginState> StepUp(const std::string& token, int level, int max_age) {
    pb::StartStepUpRequest r;
    r.set_session_token(token);
    r.set_required_level(level);
    r.set_max_age_seconds(max_age);
    absl::StatusOr<pb::StartStepUpResponse> response = manager_->StartStepUp(r, kNoDeadline);
    if (!response.ok()) return response.status();
    return response->state();
  }

  tally::testing::FakeClock clock_;
  std::string dir_;
  InMemoryLoginStore store_{LockoutPolicy{}, clock_};
  InMemoryRevocationStore revocations_{clock_};
  std::shared_ptr<const SigningKeys> keys_;
  std::unique_ptr<SessionManager> sessions_;
  FakePolicy policy_;
  FakeCredentials credentials_;
  std::unique_ptr<FakeOtp> otp_;
  FakePasskeys passkeys_;
  std::unique_ptr<LoginManager> manager_;
};

TEST_F(LoginManagerTest, PasswordAndSmsSucceed) {
  pb::LoginState s = Start("Alice");
  EXPECT_EQ(s.status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(s.directory_id(), dir_);
  EXPECT_EQ(s.required_level(), 30);
  EXPECT_EQ(s.score(), 0);
  // Before the user is proven the directory alone decides.
  EXPECT_THAT(Offered(s), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP,
                                      AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY));
  EXPECT_FALSE(s.has_last_step());

  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->score(), 20);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  EXPECT_THAT(Completed(*after), ElementsAre(AUTH_METHOD_PASSWORD));
  // Proven: alice has no passkey, so PASSKEY is no longer offered.
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  EXPECT_EQ(after->offered_methods(0).points(), 10);

  after = Send(s, otppb::CHANNEL_SMS);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->otp_delivery().channel(), otppb::CHANNEL_SMS);
  EXPECT_EQ(after->otp_delivery().masked_destination(), "+31***");
  EXPECT_THAT(otp_->sends, ElementsAre("+31612345678"));

  after = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(after->score(), 30);
  EXPECT_THAT(Offered(*after), IsEmpty());
  ASSERT_FALSE(after->session().token().empty());
  absl::StatusOr<SessionClaims> claims = sessions_->Validate(after->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "usr_alice");
  EXPECT_EQ(claims->directory_id, dir_);
  EXPECT_EQ(claims->acr, "30");
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "sms", "mfa"));
  EXPECT_THAT(claims->methods, ElementsAre("password", "sms"));
  EXPECT_THAT(claims->roles, ElementsAre("admin", "user"));
  EXPECT_EQ(claims->session_id, after->session().session_id());

  // GetLogin shows the same finished login, but never its token (anyone holding the login id
  // may ask); further steps are refused.
  absl::StatusOr<pb::LoginState> got = Get(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(got->session().session_id(), after->session().session_id());
  EXPECT_TRUE(got->session().token().empty());
  EXPECT_TRUE(absl::IsFailedPrecondition(Password(s, "correct horse").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_EMAIL).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Verify(s, "123456").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(StartPasskey(s).status()));
}

TEST_F(LoginManagerTest, PasswordAndEmailSucceed) {
  pb::LoginState s = Start("pat");
  ASSERT_TRUE(Password(s, "pat's password").ok());
  // pat has no phone: SMS is not offered once pat is proven.
  absl::StatusOr<pb::LoginState> g = Get(s);
  EXPECT_THAT(Offered(*g), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_EMAIL).ok());
  absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("pat@example.com"));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "otp", "mfa"));
}

TEST_F(LoginManagerTest, SmsAndEmailAloneDoNotSucceed) {
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> after = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->score(), 10);
  ASSERT_TRUE(Send(s, otppb::CHANNEL_EMAIL).ok());
  after = Verify(s, otp_->CodeFor("alice@example.com"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(after->score(), 20);
  EXPECT_FALSE(after->has_session());
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_PASSWORD));
  // The password completes it.
  after = Password(s, "correct horse");
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
}

TEST_F(LoginManagerTest, AMethodCountsOnceAndRacingStepsFinishOnce) {
  policy_.Set(dir_, Settings(40, 20, 10, 10, 30));
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> after = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_EQ(after->score(), 30);
  // SMS is done: it is no longer offered, a second code cannot be sent or add points.
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Verify(s, "000000").status()));

  // Two logins racing their final step (the same right code twice): one session, both answers
  // carry it, and the method counts once.
  policy_.Set(dir_, Settings(30, 20, 10, 10, 30));
  pb::LoginState s2 = Start("alice");
  ASSERT_TRUE(Password(s2, "correct horse").ok());
  ASSERT_TRUE(Send(s2, otppb::CHANNEL_EMAIL).ok());
  const std::string code = otp_->CodeFor("alice@example.com");
  std::vector<absl::StatusOr<pb::LoginState>> results(8, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = Verify(s2, code); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> sessions;
  int accepted = 0;
  for (const auto& r : results) {
    if (!r.ok()) {
      // A step that arrives after the login finished.
      EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
      continue;
    }
    if (r->last_step().outcome() == pb::STEP_OUTCOME_ACCEPTED) ++accepted;
    if (r->status() == pb::LOGIN_STATUS_SUCCEEDED) sessions.insert(r->session().session_id());
  }
  EXPECT_GE(accepted, 1);
  EXPECT_EQ(otp_->accepted, 2);  // the SMS code above, and this code once
  EXPECT_EQ(sessions.size(), 1u);
  absl::StatusOr<pb::LoginState> final = Get(s2);
  EXPECT_EQ(final->score(), 30);
  EXPECT_THAT(Completed(*final), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_EMAIL_OTP));
  EXPECT_EQ(final->session().session_id(), *sessions.begin());
}

TEST_F(LoginManagerTest, RacingDifferentFinalStepsIssueOneSession) {
  // Either the password or the SMS code alone reaches the level.
  policy_.Set(dir_, Settings(20, 20, 20, 10, 30));
  for (int round = 0; round < 5; ++round) {
    pb::LoginState s = Start("alice");
    clock_.Advance(absl::Seconds(31));  // past the SMS cooldown of the previous round
    absl::StatusOr<pb::LoginState> sent = Send(s, otppb::CHANNEL_SMS);
    ASSERT_TRUE(sent.ok()) << sent.status();
    // Not proven yet: where the code went is not shown.
    EXPECT_EQ(sent->otp_delivery().masked_destination(), "");
    const std::string code = otp_->CodeFor("+31612345678");
    absl::StatusOr<pb::LoginState> a = absl::UnknownError("");
    absl::StatusOr<pb::LoginState> b = absl::UnknownError("");
    std::thread t1([&] { a = Password(s, "correct horse"); });
    std::thread t2([&] { b = Verify(s, code); });
    t1.join();
    t2.join();
    std::set<std::string> sids;
    std::set<std::string> tokens;
    for (const auto* r : {&a, &b}) {
      if (r->ok()) {
        EXPECT_EQ((*r)->status(), pb::LOGIN_STATUS_SUCCEEDED);
        sids.insert((*r)->session().session_id());
        tokens.insert((*r)->session().token());
      } else {
        EXPECT_TRUE(absl::IsFailedPrecondition(r->status())) << r->status();
      }
    }
    ASSERT_EQ(sids.size(), 1u);
    // The racing final steps all carry the one token issued; GetLogin shows the session, never
    // its token.
    ASSERT_EQ(tokens.size(), 1u);
    EXPECT_TRUE(sessions_->Validate(*tokens.begin()).ok());
    absl::StatusOr<pb::LoginState> final = Get(s);
    EXPECT_EQ(final->session().session_id(), *sids.begin());
    EXPECT_EQ(sessions_->Validate(*tokens.begin())->session_id, *sids.begin());
  }
}

TEST_F(LoginManagerTest, SettingsChangesApplyAtTheNextStep) {
  pb::LoginState s = Start("alice");
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  ASSERT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  // The admin raises the level and disables SMS: the next step sees it.
  policy_.Set(dir_, Settings(40, 20, 0, 20, 30));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_EMAIL).ok());
  after = Get(s);
  EXPECT_EQ(after->required_level(), 40);
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  // Lowering the level below the score finishes the login at the next step (a step: GetLogin
  // only reads the login).
  policy_.Set(dir_, Settings(20, 20, 10, 10, 30));
  EXPECT_EQ(Get(s)->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  after = Send(s, otppb::CHANNEL_SMS);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(sessions_->Validate(after->session().token())->acr, "20");
}

TEST_F(LoginManagerTest, PasskeyOnlyLogin) {
  pb::LoginState s = Start("kim");
  EXPECT_THAT(Offered(s), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP,
                                      AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY));
  absl::StatusOr<pb::StartPasskeyResponse> started = StartPasskey(s);
  ASSERT_TRUE(started.ok()) << started.status();
  // Not proven yet: a discoverable ceremony, listing nobody's credentials.
  EXPECT_EQ(started->request_options_json(), R"({"rpId":"tally.test","allowCredentials":[]})");
  // Another user's passkey does not log kim in.
  passkeys_.AddPasskey("usr_alice");
  absl::StatusOr<pb::LoginState> after = FinishPasskey(s, "assert:usr_alice");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(after->last_step().attempts_left(), 4);
  // The ceremony was consumed.
  EXPECT_TRUE(absl::IsFailedPrecondition(FinishPasskey(s, "assert:usr_kim").status()));
  ASSERT_TRUE(StartPasskey(s).ok());
  after = FinishPasskey(s, "assert:usr_kim");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(after->session().token());
  EXPECT_EQ(claims->subject, "usr_kim");
  EXPECT_THAT(claims->amr, ElementsAre("hwk"));
}

TEST_F(LoginManagerTest, SyncedPasskeyIsASoftwareKey) {
  passkeys_.AddPasskey("usr_kim", /*synced=*/true);
  pb::LoginState s = Start("kim");
  ASSERT_TRUE(StartPasskey(s).ok());
  absl::StatusOr<pb::LoginState> after = FinishPasskey(s, "assert:usr_kim");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(after->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(claims->amr, ElementsAre("swk"));
  EXPECT_EQ(claims->amr_times.at("passkey"), claims->auth_time);

  // A step-up keeps the kind of the passkey it carries (alice's synced passkey, then her
  // password completed inside the step-up).
  passkeys_.AddPasskey("usr_alice", /*synced=*/true);
  s = Start("alice");
  ASSERT_TRUE(StartPasskey(s).ok());
  after = FinishPasskey(s, "assert:usr_alice");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  pb::StartStepUpRequest r;
  r.set_session_token(after->session().token());
  r.set_required_level(40);
  r.set_max_age_seconds(60);
  auto up = manager_->StartStepUp(r, kNoDeadline);
  ASSERT_TRUE(up.ok()) << up.status();
  absl::StatusOr<pb::LoginState> upped = Password(up->state(), "correct horse");
  ASSERT_TRUE(upped.ok()) << upped.status();
  ASSERT_EQ(upped->status(), pb::LOGIN_STATUS_SUCCEEDED);
  claims = sessions_->Validate(upped->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "swk", "mfa"));
}

TEST_F(LoginManagerTest, StepUpCountsEachMethodByItsOwnAge) {
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->amr_times.at("sms") - claims->amr_times.at("password"), absl::Minutes(5));
  clock_.Advance(absl::Minutes(2));

  // The password is 7 minutes old, the SMS code 2: with a 4-minute limit only the code counts.
  pb::StartStepUpRequest r;
  r.set_session_token(done->session().token());
  r.set_required_level(30);
  r.set_max_age_seconds(240);
  auto up = manager_->StartStepUp(r, kNoDeadline);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->state().status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(up->state().score(), 10);
  EXPECT_THAT(Completed(up->state()), ElementsAre(AUTH_METHOD_SMS_OTP));
  absl::StatusOr<pb::LoginState> finished = Password(up->state(), "correct horse");
  ASSERT_TRUE(finished.ok()) << finished.status();
  ASSERT_EQ(finished->status(), pb::LOGIN_STATUS_SUCCEEDED);
  claims = sessions_->Validate(finished->session().token());
  ASSERT_TRUE(claims.ok());
  // The fresh password, the SMS code at its original time.
  EXPECT_EQ(claims->amr_times.at("password"), claims->issued_at);
  EXPECT_EQ(claims->amr_times.at("sms"), claims->issued_at - absl::Minutes(2));
  EXPECT_EQ(claims->auth_time, claims->issued_at);
}

TEST_F(LoginManagerTest, DiscoverableLoginIdentifiesTheUser) {
  pb::LoginState s = Start("");
  EXPECT_THAT(Offered(s), ElementsAre(AUTH_METHOD_PASSKEY));
  EXPECT_TRUE(absl::IsFailedPrecondition(Password(s, "x").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(FinishPasskey(s, "assert:usr_kim").status()));
  ASSERT_TRUE(StartPasskey(s).ok());
  absl::StatusOr<pb::LoginState> after = FinishPasskey(s, "garbage");
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  ASSERT_TRUE(StartPasskey(s).ok());
  after = FinishPasskey(s, "assert:usr_kim");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(sessions_->Validate(after->session().token())->subject, "usr_kim");

  // With a higher level the passkey identifies the user, then the user's own means are offered.
  policy_.Set(dir_, Settings(40, 20, 10, 10, 30));
  passkeys_.AddPasskey("usr_alice");
  pb::LoginState s2 = Start("");
  ASSERT_TRUE(StartPasskey(s2).ok());
  after = FinishPasskey(s2, "assert:usr_alice");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_THAT(Offered(*after),
              ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  after = Password(s2, "correct horse");
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
}

TEST_F(LoginManagerTest, LockoutAcrossLoginsAndItsExpiry) {
  pb::LoginState s = Start("alice");
  for (int i = 1; i <= 4; ++i) {
    absl::StatusOr<pb::LoginState> after = Password(s, "wrong");
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
    EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(after->last_step().attempts_left(), 5 - i);
  }
  // A wrong code counts for its own method (another login of the same user): no lock yet.
  pb::LoginState other = Start("alice");
  ASSERT_TRUE(Send(other, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> code = Verify(other, "000000");
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  // The fifth wrong password, in any login, locks the user for every method.
  absl::StatusOr<pb::LoginState> locked = Password(other, "wrong");
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(locked->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(locked->retry_after().seconds(), 60);
  EXPECT_EQ(locked->last_step().attempts_left(), 0);

  // While locked nothing is checked or sent, in any login of the user.
  const int checks = credentials_.verify_calls.load();
  const size_t sends = otp_->sends.size();
  clock_.Advance(absl::Seconds(30));
  absl::StatusOr<pb::LoginState> again = Password(s, "correct horse");
  EXPECT_EQ(again->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(again->retry_after().seconds(), 30);
  EXPECT_EQ(Start("ALICE").status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(Send(s, otppb::CHANNEL_EMAIL)->status(), pb::LOGIN_STATUS_LOCKED);
  absl::StatusOr<pb::StartPasskeyResponse> ceremony = StartPasskey(s);
  ASSERT_TRUE(ceremony.ok()) << ceremony.status();
  EXPECT_EQ(ceremony->state().status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(ceremony->state().retry_after().seconds(), 30);
  EXPECT_TRUE(ceremony->request_options_json().empty());
  // The login kept no challenge: there is no ceremony to finish.
  EXPECT_TRUE(absl::IsFailedPrecondition(FinishPasskey(s, "assert:usr_alice").status()));
  EXPECT_EQ(credentials_.verify_calls.load(), checks);
  EXPECT_EQ(otp_->sends.size(), sends);

  // After the minute the logins the lock ended stay locked; a new login may go on, and one more
  // failure locks for two minutes.
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(Get(s)->status(), pb::LOGIN_STATUS_LOCKED);
  pb::LoginState next = Start("alice");
  EXPECT_EQ(next.status(), pb::LOGIN_STATUS_IN_PROGRESS);
  locked = Password(next, "wrong");
  EXPECT_EQ(locked->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(locked->retry_after().seconds(), 120);
  clock_.Advance(absl::Minutes(2));
  // The right password works; only the login's success resets the count.
  pb::LoginState last = Start("alice");
  absl::StatusOr<pb::LoginState> ok = Password(last, "correct horse");
  EXPECT_EQ(ok->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 1);
  ASSERT_TRUE(Send(last, otppb::CHANNEL_SMS).ok());
  ok = Verify(last, otp_->CodeFor("+31612345678"));
  EXPECT_EQ(ok->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 5);
}

TEST_F(LoginManagerTest, ParallelBruteForceNeverExceedsTheLimit) {
  std::vector<pb::LoginState> logins;
  for (int i = 0; i < 16; ++i) logins.push_back(Start("alice"));
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&, i] {
        if (!Password(logins[i], absl::StrCat("guess-", round, "-", i)).ok()) ++errors;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
  }
  EXPECT_EQ(credentials_.verify_calls.load(), 5);
  EXPECT_EQ(Get(logins[0])->status(), pb::LOGIN_STATUS_LOCKED);
  // Once the lock has run out, one more guess at a time (in new logins: the lock ended these).
  clock_.Advance(absl::Minutes(1));
  for (int i = 0; i < 16; ++i) logins[i] = Start("alice");
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([&, i] { (void)Password(logins[i], "x"); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(credentials_.verify_calls.load(), 6);
}

// Clears what differs between two logins by construction (ids).
pb::LoginState Comparable(pb::LoginState s) {
  s.clear_login_id();
  return s;
}

TEST_F(LoginManagerTest, UnknownUsersAreIndistinguishable) {
  auto run = [&](const std::string& username) {
    std::vector<std::string> trace;
    auto add = [&](const absl::StatusOr<pb::LoginState>& s) {
      trace.push_back(s.ok() ? Comparable(*s).DebugString() : s.status().ToString());
    };
    pb::LoginState s = Start(username);
    add(s);
    add(Password(s, "wrong"));
    add(Send(s, otppb::CHANNEL_SMS));
    add(Send(s, otppb::CHANNEL_SMS));  // inside the cooldown
    add(Verify(s, "000000"));
    add(Send(s, otppb::CHANNEL_EMAIL));
    add(Verify(s, "000000"));
    absl::StatusOr<pb::StartPasskeyResponse> passkey = StartPasskey(s);
    trace.push_back(passkey.ok() ? passkey->request_options_json() : passkey.status().ToString());
    add(FinishPasskey(s, "assert:usr_kim"));
    add(Password(s, "wrong"));
    add(Password(s, "wrong"));
    add(Password(s, "wrong"));
    add(Password(s, "wrong"));  // the fifth wrong password: locked now
    add(Get(s));
    return trace;
  };
  const std::vector<std::string> known = run("alice");
  const std::vector<std::string> unknown = run("nobody");
  ASSERT_EQ(known.size(), unknown.size());
  for (size_t i = 0; i < known.size(); ++i) EXPECT_EQ(known[i], unknown[i]) << "step " << i;
  // The last steps are locked, for both alike.
  EXPECT_THAT(known.back(), HasSubstr("LOGIN_STATUS_LOCKED"));
  // Codes went to alice's real phone and e-mail; none for the unknown username.
  EXPECT_THAT(otp_->sends, ElementsAre("+31612345678", "alice@example.com"));
}

// Issue 20: SendOtp for an unknown username does the work it does for a known one (a user
// lookup, then the OTP service), so neither the peers' load nor the time taken tells them apart.
TEST_F(LoginManagerTest, SendOtpDoesTheSameWorkForKnownAndUnknownUsernames) {
  auto work = [&](const std::string& username) {
    pb::LoginState s = Start(username);
    const int lookups = credentials_.get_user_calls.load();
    const size_t sends = otp_->Requests().size();
    absl::StatusOr<pb::LoginState> sent = Send(s, otppb::CHANNEL_SMS);
    EXPECT_TRUE(sent.ok()) << sent.status();
    return std::make_pair(credentials_.get_user_calls.load() - lookups,
                          otp_->Requests().size() - sends);
  };
  const auto known = work("alice");
  const auto unknown = work("nobody");
  EXPECT_EQ(known.first, 1);
  EXPECT_EQ(unknown, known);
}

TEST_F(LoginManagerTest, CodesToNobodyAreTheOtpServicesToThrottleAndNeverAccept) {
  // An unknown username, and pat (who has no phone) before being proven: no SMS to send.
  pb::LoginState unknown = Start("Nobody");
  pb::LoginState pat = Start("pat");
  absl::StatusOr<pb::LoginState> sent = Send(unknown, otppb::CHANNEL_SMS);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->otp_delivery().channel(), otppb::CHANNEL_SMS);
  EXPECT_EQ(sent->otp_delivery().masked_destination(), "");
  ASSERT_TRUE(Send(pat, otppb::CHANNEL_SMS).ok());
  // One SendCode each, as for a real code: to nobody, named by the lockout subject, without a
  // user or a destination.
  std::vector<otppb::SendCodeRequest> requests = otp_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].directory_id(), dir_);
  EXPECT_EQ(requests[0].channel(), otppb::CHANNEL_SMS);
  EXPECT_TRUE(requests[0].no_recipient());
  EXPECT_EQ(requests[0].no_recipient_key(), "n:nobody");
  EXPECT_EQ(requests[0].user_id(), "");
  EXPECT_EQ(requests[0].destination(), "");
  EXPECT_TRUE(requests[1].no_recipient());
  EXPECT_EQ(requests[1].no_recipient_key(), "u:usr_pat");
  EXPECT_EQ(requests[1].user_id(), "");
  EXPECT_TRUE(otp_->sends.empty());

  // The OTP service's refusal, in its words, is the answer.
  absl::StatusOr<pb::LoginState> again = Send(unknown, otppb::CHANNEL_SMS);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(again.status().message(), "a code was just sent to this destination; retry in 30s");
  EXPECT_EQ(otp_->Requests().size(), 3u);

  // The OTP service checks the code and counts the attempt; none is ever accepted.
  absl::StatusOr<pb::LoginState> wrong = Verify(unknown, "100001");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_EQ(wrong->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(wrong->last_step().attempts_left(), 4);
  EXPECT_EQ(otp_->verifies, 1);
  EXPECT_EQ(otp_->accepted, 0);
}

TEST_F(LoginManagerTest, ACodeToNobodyFromAnOlderReplicaIsRejectedWithoutAsking) {
  // Older replicas kept a code to nobody in the login without an OTP challenge.
  pb::LoginState s = Start("nobody");
  LoginUpdate legacy;
  legacy.otp = OtpState{otppb::CHANNEL_SMS, "", "", clock_.Now()};
  ASSERT_TRUE(store_.Update(s.login_id(), legacy).ok());
  absl::StatusOr<pb::LoginState> after = Verify(s, "123456");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(after->last_step().attempts_left(), 0);
  EXPECT_EQ(otp_->verifies, 0);
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "n:nobody"), 4);  // counted like any failure
}

TEST_F(LoginManagerTest, WrongCodeReportsTheAttemptsLeft) {
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "wrong").ok());          // one failure against the lockout
  ASSERT_TRUE(Password(s, "correct horse").ok());  // reset
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> after = Verify(s, "000000");
  EXPECT_EQ(after->last_step().method(), AUTH_METHOD_SMS_OTP);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(after->last_step().attempts_left(), 4);
  // A resend gives a new code; the old one is refused.
  clock_.Advance(absl::Seconds(31));
  const std::string old_code = otp_->CodeFor("+31612345678");
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  after = Verify(s, old_code);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  after = Verify(s, otp_->CodeFor("+31612345678"));
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
}

TEST_F(LoginManagerTest, StepUp) {
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  const std::string token = done->session().token();
  clock_.Advance(absl::Minutes(2));

  pb::StartStepUpRequest r;
  r.set_session_token(token);
  r.set_required_level(40);
  r.set_max_age_seconds(300);
  auto up = manager_->StartStepUp(r, kNoDeadline);
  ASSERT_TRUE(up.ok()) << up.status();
  pb::LoginState st = up->state();
  EXPECT_EQ(st.status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(st.required_level(), 40);
  EXPECT_EQ(st.score(), 30);
  EXPECT_THAT(Completed(st), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP));
  // The carried methods stay on offer: redoing one counts as a method completed here.
  EXPECT_THAT(Offered(st),
              ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  ASSERT_TRUE(Send(st, otppb::CHANNEL_EMAIL).ok());
  absl::StatusOr<pb::LoginState> upped = Verify(st, otp_->CodeFor("alice@example.com"));
  ASSERT_EQ(upped->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(upped->session().token());
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->acr, "40");
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "sms", "otp", "mfa"));
  EXPECT_THAT(claims->methods, ElementsAre("password", "sms", "email"));
  EXPECT_NE(claims->session_id, done->session().session_id());

  // Too old: nothing counts, everything must be done again.
  r.set_max_age_seconds(60);
  up = manager_->StartStepUp(r, kNoDeadline);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->state().score(), 0);
  EXPECT_THAT(Offered(up->state()),
              ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  r.set_max_age_seconds(0);
  EXPECT_EQ(manager_->StartStepUp(r, kNoDeadline)->state().score(), 0);

  // A level the session already has still needs a method completed in the step-up.
  r.set_required_level(30);
  r.set_max_age_seconds(3600);
  up = manager_->StartStepUp(r, kNoDeadline);
  EXPECT_EQ(up->state().status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(up->state().score(), 30);

  // Bad requests and revoked sessions.
  r.set_required_level(0);
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->StartStepUp(r, kNoDeadline).status()));
  r.set_required_level(40);
  r.set_max_age_seconds(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->StartStepUp(r, kNoDeadline).status()));
  r.set_max_age_seconds(10);
  ASSERT_TRUE(sessions_->Revoke(token).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(manager_->StartStepUp(r, kNoDeadline).status()));
  r.set_session_token("not-a-token");
  EXPECT_TRUE(absl::IsUnauthenticated(manager_->StartStepUp(r, kNoDeadline).status()));
}

TEST_F(LoginManagerTest, AStepUpTokenJoinsItsSessionsFamily) {
  for (bool revoke_the_step_up : {true, false}) {
    const pb::Session original = AliceSession();
    clock_.Advance(absl::Minutes(2));

    absl::StatusOr<pb::LoginState> up = StepUp(original.token(), 40, 300);
    ASSERT_TRUE(up.ok()) << up.status();
    ASSERT_TRUE(Send(*up, otppb::CHANNEL_EMAIL).ok());
    absl::StatusOr<pb::LoginState> upped = Verify(*up, otp_->CodeFor("alice@example.com"));
    ASSERT_EQ(upped->status(), pb::LOGIN_STATUS_SUCCEEDED);
    const pb::Session stepped = upped->session();
    // Two minutes later, and still not a second longer than the session it steps up.
    EXPECT_EQ(stepped.expire_time().seconds(), original.expire_time().seconds());
    auto claims = sessions_->Validate(stepped.token());
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->family_id, original.session_id());

    // Revoking either token revokes both.
    ASSERT_TRUE(
        sessions_->Revoke(revoke_the_step_up ? stepped.token() : original.token()).ok());
    EXPECT_TRUE(absl::IsUnauthenticated(sessions_->Validate(original.token()).status()));
    EXPECT_TRUE(absl::IsUnauthenticated(sessions_->Validate(stepped.token()).status()));
    clock_.Advance(absl::Seconds(31));  // each round its own second: new tokens, new families
  }
}

// A step-up is no silent refresh: its token needs a method completed inside it, whatever the
// session carries, and never outlives the session it steps up.
TEST_F(LoginManagerTest, AStepUpThatCompletesNoNewMethodNeverFinishes) {
  const pb::Session original = AliceSession();
  clock_.Advance(absl::Minutes(1));

  absl::StatusOr<pb::LoginState> up = StepUp(original.token(), 30, 3600);
  ASSERT_TRUE(up.ok()) << up.status();
  // The carried methods reach the level, yet nothing was proven here.
  EXPECT_EQ(up->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(up->score(), 30);
  EXPECT_FALSE(up->has_session());
  EXPECT_THAT(Offered(*up),
              ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  absl::StatusOr<pb::LoginState> got = Get(*up);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  // A wrong password finishes nothing either.
  absl::StatusOr<pb::LoginState> wrong = Password(*up, "wrong");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_EQ(wrong->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_FALSE(wrong->session().has_expire_time());

  // Redoing a carried method counts.
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<pb::LoginState> upped = Password(*up, "correct horse");
  ASSERT_TRUE(upped.ok()) << upped.status();
  ASSERT_EQ(upped->status(), pb::LOGIN_STATUS_SUCCEEDED);
  auto claims = sessions_->Validate(upped->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->amr_times.at("password"), clock_.Now());
  EXPECT_EQ(claims->auth_time, clock_.Now());
  EXPECT_THAT(claims->methods, ElementsAre("password", "sms"));
  EXPECT_LE(upped->session().expire_time().seconds(), original.expire_time().seconds());
  EXPECT_EQ(claims->family_id, original.session_id());
}

TEST_F(LoginManagerTest, AStepUpAsksAtLeastTheDirectoryLevel) {
  const pb::Session session = AliceSession();
  // Nothing carried (max age 0) and a level below the directory's 30: the password alone (20)
  // is not enough.
  absl::StatusOr<pb::LoginState> up = StepUp(session.token(), 10, 0);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->required_level(), 30);
  absl::StatusOr<pb::LoginState> after = Password(*up, "correct horse");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(after->score(), 20);
}

// Rule 4c: an application's min_level raises this login's level (the token's acr is the score
// reached), is ignored below the directory's level, and is refused above rule 4's sum.
TEST_F(LoginManagerTest, MinLevelRaisesTheLevelAndTheAcrIsTheScoreReached) {
  pb::StartLoginRequest r;
  r.set_directory_id(dir_);
  r.set_username("alice");
  r.set_min_level(40);
  absl::StatusOr<pb::StartLoginResponse> started = manager_->StartLogin(r, kNoDeadline);
  ASSERT_TRUE(started.ok()) << started.status();
  const pb::LoginState s = started->state();
  EXPECT_EQ(s.required_level(), 40);
  ASSERT_TRUE(Password(s, "correct horse").ok());
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> two = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_TRUE(two.ok()) << two.status();
  // The directory's 30 is reached, the application's 40 is not.
  EXPECT_EQ(two->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(two->score(), 30);
  EXPECT_EQ(two->required_level(), 40);
  EXPECT_THAT(Offered(*two), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_EMAIL).ok());
  absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("alice@example.com"));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  absl::StatusOr<SessionClaims> claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->acr, "40");
  // GetLogin keeps the raised level.
  absl::StatusOr<pb::LoginState> got = Get(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->required_level(), 40);
}

TEST_F(LoginManagerTest, MinLevelNeverLowersAndAnUnreachableOneIsRefused) {
  pb::StartLoginRequest r;
  r.set_directory_id(dir_);
  r.set_username("alice");
  r.set_min_level(10);
  absl::StatusOr<pb::StartLoginResponse> low = manager_->StartLogin(r, kNoDeadline);
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->state().required_level(), 30);
  absl::StatusOr<pb::LoginState> after = Password(low->state(), "correct horse");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);

  // Password 20 + SMS 10 + e-mail 10 + passkey 30: nothing reaches 71.
  r.set_min_level(70);
  EXPECT_TRUE(manager_->StartLogin(r, kNoDeadline).ok());
  r.set_min_level(71);
  EXPECT_EQ(manager_->StartLogin(r, kNoDeadline).status().code(),
            absl::StatusCode::kFailedPrecondition);
  r.set_min_level(-1);
  EXPECT_EQ(manager_->StartLogin(r, kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Remembered devices (rule 9): Freemium points with a device worth 10: password 20 + device 10
// reach 30 without a code; the device never counts alone, nor for anyone else.
class TrustedDeviceTest : public LoginManagerTest {
 protected:
  void SetUp() override {
    LoginManagerTest::SetUp();
    credentials_.set_clock(clock_);
    ::tally::policy::v1::AuthSettings settings = Settings(30, 20, 10, 10, 30);
    cpb::MethodPoints* device = settings.add_method_points();
    device->set_method(AUTH_METHOD_TRUSTED_DEVICE);
    device->set_points(10);
    settings.mutable_trusted_device_max_age()->set_seconds(7 * 24 * 3600);
    policy_.Set(dir_, settings);
  }
  pb::LoginState StartWith(const std::string& username, const std::string& device_token) {
    pb::StartLoginRequest r;
    r.set_directory_id(dir_);
    r.set_username(username);
    r.set_device_token(device_token);
    auto response = manager_->StartLogin(r, kNoDeadline);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->state() : pb::LoginState();
  }
  absl::StatusOr<pb::RememberDeviceResponse> Remember(const std::string& login_id) {
    pb::RememberDeviceRequest r;
    r.set_login_id(login_id);
    r.set_device_name("Firefox on Linux");
    return manager_->RememberDevice(r, kNoDeadline);
  }
  // Alice logs in with password + SMS and remembers the device: its token.
  std::string AliceRemembers() {
    pb::LoginState s = Start("alice");
    EXPECT_TRUE(Password(s, "correct horse").ok());
    EXPECT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
    EXPECT_TRUE(Verify(s, otp_->CodeFor("+31612345678")).ok());
    absl::StatusOr<pb::RememberDeviceResponse> remembered = Remember(s.login_id());
    EXPECT_TRUE(remembered.ok()) << remembered.status();
    return remembered.ok() ? remembered->device_token() : std::string();
  }
};

TEST_F(TrustedDeviceTest, ARememberedDeviceTurnsThePasswordIntoAFullLogin) {
  const std::string token = AliceRemembers();
  ASSERT_FALSE(token.empty());
  // The user is told, by e-mail.
  std::vector<otppb::SendNoticeRequest> notices = otp_->Notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].kind(), otppb::NOTICE_DEVICE_REMEMBERED);
  EXPECT_EQ(notices[0].destination(), "alice@example.com");
  EXPECT_EQ(notices[0].channel(), otppb::CHANNEL_EMAIL);

  clock_.Advance(absl::Hours(1));
  pb::LoginState s = StartWith("alice", token);
  // Never offered, never completed before a password or passkey.
  EXPECT_THAT(Offered(s), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP,
                                      AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY));
  EXPECT_THAT(Completed(s), IsEmpty());
  EXPECT_EQ(credentials_.verify_device_calls, 0);
  absl::StatusOr<pb::LoginState> done = Password(s, "correct horse");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(credentials_.verify_device_calls, 1);
  ASSERT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done->score(), 30);
  absl::StatusOr<SessionClaims> claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(claims->methods, ElementsAre("password", "trusted_device"));
  EXPECT_EQ(claims->acr, "30");
}

TEST_F(TrustedDeviceTest, TheDeviceSkipsTheCodeNeverThePassword) {
  const std::string token = AliceRemembers();
  // SMS (10) + device (10): the device waits for a password or passkey, however many codes.
  clock_.Advance(absl::Seconds(31));  // the SMS cooldown of the first login
  pb::LoginState s = StartWith("alice", token);
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  absl::StatusOr<pb::LoginState> sms = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_TRUE(sms.ok());
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_EMAIL).ok());
  absl::StatusOr<pb::LoginState> email = Verify(s, otp_->CodeFor("alice@example.com"));
  ASSERT_TRUE(email.ok());
  EXPECT_EQ(email->score(), 20);
  EXPECT_EQ(email->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_THAT(Completed(*email), ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
  EXPECT_EQ(credentials_.verify_device_calls, 0);
}

TEST_F(TrustedDeviceTest, AnotherUsersExpiredForgottenOrGarbageTokenAddsNothingAndTellsNothing) {
  const std::string token = AliceRemembers();
  // What a login with no token answers after the password: the reference.
  pb::LoginState plain = Start("pat");
  absl::StatusOr<pb::LoginState> reference = Password(plain, "pat's password");
  ASSERT_TRUE(reference.ok());
  ASSERT_EQ(reference->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  auto same_as_no_token = [&](const std::string& user, const std::string& password,
                              const std::string& device_token, int checks = 1) {
    const int calls = credentials_.verify_device_calls;
    pb::LoginState s = StartWith(user, device_token);
    absl::StatusOr<pb::LoginState> after = Password(s, password);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
    EXPECT_EQ(after->score(), 20);
    EXPECT_THAT(Completed(*after), ElementsAre(AUTH_METHOD_PASSWORD));
    EXPECT_FALSE(after->has_session());
    // One check either way once the user is known: the calls do not tell either.
    EXPECT_EQ(credentials_.verify_device_calls, calls + checks);
  };
  // Alice's token for Pat.
  same_as_no_token("pat", "pat's password", token);
  same_as_no_token("alice", "correct horse", "garbage");
  // Longer than any token issued: dropped at StartLogin (the caller knows what it sent).
  same_as_no_token("alice", "correct horse", std::string(2000, 'x'), /*checks=*/0);

  // Expired: older than the directory's trusted_device_max_age (7 days).
  clock_.Advance(absl::Hours(24 * 7) + absl::Seconds(1));
  same_as_no_token("alice", "correct horse", token);
}

TEST_F(TrustedDeviceTest, AShortenedMaxAgeAndAForgottenOrPasswordChangeEndTheDevice) {
  const std::string token = AliceRemembers();
  clock_.Advance(absl::Hours(2));
  // The directory shortens trusted_device_max_age to one hour: it applies to this device.
  ::tally::policy::v1::AuthSettings settings = *policy_.GetAuthSettings(dir_, kNoDeadline);
  settings.mutable_trusted_device_max_age()->set_seconds(3600);
  policy_.Set(dir_, settings);
  pb::LoginState s = StartWith("alice", token);
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);

  // A password change forgets the device (the credential service's rule, mirrored by the fake).
  settings.mutable_trusted_device_max_age()->set_seconds(7 * 24 * 3600);
  policy_.Set(dir_, settings);
  credentials_.ForgetDevicesOf("usr_alice");
  s = StartWith("alice", token);
  after = Password(s, "correct horse");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
}

TEST_F(TrustedDeviceTest, APasskeyIdentifiesTheUserAndTheDeviceCountsWithIt) {
  // Kim (passkey only) remembers a device after a passkey login.
  pb::LoginState s = Start("kim");
  ASSERT_TRUE(StartPasskey(s).ok());
  absl::StatusOr<pb::LoginState> done = FinishPasskey(s, "assert:usr_kim");
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  absl::StatusOr<pb::RememberDeviceResponse> remembered = Remember(s.login_id());
  ASSERT_TRUE(remembered.ok()) << remembered.status();
  // No e-mail on file: no notice, the device is remembered all the same.
  EXPECT_TRUE(otp_->Notices().empty());
  // A passkey-first login: the passkey names the user, then the device counts too.
  pb::LoginState first = StartWith("", remembered->device_token());
  ASSERT_TRUE(StartPasskey(first).ok());
  absl::StatusOr<pb::LoginState> both = FinishPasskey(first, "assert:usr_kim");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_THAT(Completed(*both), ElementsAre(AUTH_METHOD_PASSKEY, AUTH_METHOD_TRUSTED_DEVICE));
  EXPECT_EQ(both->score(), 40);
}

TEST_F(TrustedDeviceTest, OnlyASucceededLoginWithinItsTtlIsRemembered) {
  pb::LoginState s = Start("alice");
  EXPECT_EQ(Remember(s.login_id()).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Password(s, "correct horse").ok());
  EXPECT_EQ(Remember(s.login_id()).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  ASSERT_EQ(Verify(s, otp_->CodeFor("+31612345678"))->status(), pb::LOGIN_STATUS_SUCCEEDED);
  pb::RememberDeviceRequest bad;
  bad.set_login_id(s.login_id());
  EXPECT_EQ(manager_->RememberDevice(bad, kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.set_device_name(std::string(129, 'a'));
  EXPECT_EQ(manager_->RememberDevice(bad, kNoDeadline).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Remember("lgn_unknown-" + dir_).status().code(), absl::StatusCode::kNotFound);
  // A failed notice is logged; the device is remembered all the same.
  otp_->notice_status = absl::UnavailableError("otp service unavailable");
  absl::StatusOr<pb::RememberDeviceResponse> remembered = Remember(s.login_id());
  ASSERT_TRUE(remembered.ok()) << remembered.status();
  EXPECT_EQ(FromProtoTime(remembered->expire_time()), clock_.Now() + absl::Hours(24 * 7));
  // Once per login: whoever holds the login id later mints no device of their own.
  EXPECT_EQ(Remember(s.login_id()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(credentials_.ListDevices([&] {
    ::tally::credential::v1::ListDevicesRequest list;
    list.set_directory_id(dir_);
    list.set_user_id("usr_alice");
    return list;
  }(), kNoDeadline)->devices_size(), 1);
  // After the login's TTL: gone.
  clock_.Advance(absl::Minutes(11));
  EXPECT_EQ(Remember(s.login_id()).status().code(), absl::StatusCode::kNotFound);
}

// API.md "Changed behaviour": only the answer of the step that finished the login carries the
// token; a step that only finds the login finished (or GetLogin) does not.
TEST_F(LoginManagerTest, OnlyTheFinishingStepCarriesTheToken) {
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  // The settings are lowered to what the login already has: the next step finishes it.
  policy_.Set(dir_, Settings(20, 20, 10, 10, 30));
  absl::StatusOr<pb::LoginState> got = Get(s);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_FALSE(got->has_session());
  absl::StatusOr<pb::LoginState> sent = Send(s, otppb::CHANNEL_EMAIL);
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(sent->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_TRUE(sessions_->Validate(sent->session().token()).ok());
  got = Get(s);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(got->session().session_id(), sent->session().session_id());
  EXPECT_TRUE(got->session().token().empty());
}

// DESIGN.md §6: a touch alone (UV=0: a stolen security key without its PIN) is not a login,
// whatever the passkey service was configured to accept; it fails like a wrong factor.
TEST_F(LoginManagerTest, APasskeyWithoutUserVerificationNeverCompletes) {
  passkeys_.AddPasskey("usr_alice");
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(StartPasskey(s).ok());
  absl::StatusOr<pb::LoginState> after = FinishPasskey(s, "touch:usr_alice");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(after->score(), 0);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(after->last_step().attempts_left(), 4);
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 4);

  // Passkey-first: the passkey names kim, and the failure counts for kim.
  s = Start("");
  ASSERT_TRUE(StartPasskey(s).ok());
  after = FinishPasskey(s, "touch:usr_kim");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_THAT(Completed(*after), IsEmpty());
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_kim"), 4);
  // With user verification the same passkey logs kim in.
  ASSERT_TRUE(StartPasskey(s).ok());
  after = FinishPasskey(s, "assert:usr_kim");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
}

TEST_F(LoginManagerTest, PreconditionsAndErrors) {
  pb::LoginState s = Start("alice");
  // No code sent, no ceremony started.
  EXPECT_TRUE(absl::IsFailedPrecondition(Verify(s, "123456").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(FinishPasskey(s, "assert:usr_alice").status()));
  // A disabled method is never offered.
  policy_.Set(dir_, Settings(20, 20, 0, 0, 0));
  EXPECT_TRUE(absl::IsFailedPrecondition(StartPasskey(s).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  // Malformed requests.
  EXPECT_TRUE(absl::IsInvalidArgument(Password(s, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Send(s, otppb::CHANNEL_UNSPECIFIED).status()));
  pb::GetLoginRequest g;
  g.set_login_id("garbage");
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->GetLogin(g, kNoDeadline).status()));
  g.set_login_id(NewLoginId(CsprngRandom::Get(), dir_));
  EXPECT_TRUE(absl::IsNotFound(manager_->GetLogin(g, kNoDeadline).status()));
  pb::StartLoginRequest start;
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->StartLogin(start, kNoDeadline).status()));
  start.set_directory_id("dir_unknown");
  EXPECT_TRUE(absl::IsNotFound(manager_->StartLogin(start, kNoDeadline).status()));
  // A peer down: UNAVAILABLE, nothing counted against the user.
  credentials_.verify_status = absl::UnavailableError("credential service unavailable");
  absl::StatusOr<pb::LoginState> down = Password(s, "correct horse");
  EXPECT_TRUE(absl::IsUnavailable(down.status()));
  EXPECT_EQ(down.status().message(), "credential service unavailable");
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 5);
  credentials_.verify_status = absl::OkStatus();
  // Expired logins are gone.
  clock_.Advance(absl::Minutes(10));
  EXPECT_TRUE(absl::IsNotFound(Get(s).status()));
  EXPECT_TRUE(absl::IsNotFound(Password(s, "correct horse").status()));
}

TEST_F(LoginManagerTest, AFactorThatCompletesTheLoginSkipsThePasskeyProbe) {
  passkeys_.AddPasskey("usr_alice");
  // The password alone reaches the level: nothing is offered afterwards, so nobody asks the
  // passkey service whether alice has a passkey.
  policy_.Set(dir_, Settings(20, 20, 10, 10, 30));
  pb::LoginState s = Start("alice");
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(passkeys_.starts, 0);

  // One that does not reach it still asks, to filter the offers.
  policy_.Set(dir_, Settings(30, 20, 10, 10, 30));
  pb::LoginState t = Start("alice");
  after = Password(t, "correct horse");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(passkeys_.starts, 1);
  EXPECT_THAT(Offered(*after),
              ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY));
}

TEST_F(LoginManagerTest, EachStepStaysWithinItsRedisRoundTrips) {
  // Redis round trips are most of a step's cost beyond its peer call (tools/loadgen/analysis.md):
  // the lockout's reset travels with the login's update, and the step that completes the login
  // stores its method and the session in one script. Each store operation is one round trip in
  // Redis (the store contract's EveryOperationIsOneAtomicStep), so the fake counts them.
  auto count = [&] { return store_.operations(); };
  int64_t mark = count();
  auto spent = [&] {
    const int64_t now = count();
    const int64_t n = now - mark;
    mark = now;
    return n;
  };
  policy_.Set(dir_, Settings(30, 20, 10, 10, 30));

  // Password + SMS.
  pb::LoginState s = Start("alice");
  EXPECT_EQ(spent(), 1);  // create, which answers the lock check too
  ASSERT_TRUE(Password(s, "correct horse").ok());
  EXPECT_EQ(spent(), 3);  // read, reserve, update with the lockout reset
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  EXPECT_EQ(spent(), 3);  // read, lock check, update
  absl::StatusOr<pb::LoginState> done = Verify(s, otp_->CodeFor("+31612345678"));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(spent(), 3);  // read, reserve, finish with the update and the lockout reset

  // Passkey first.
  pb::LoginState k = Start("");
  EXPECT_EQ(spent(), 1);  // create (no subject yet, no lock to check)
  ASSERT_TRUE(StartPasskey(k).ok());
  EXPECT_EQ(spent(), 2);  // read, update
  done = FinishPasskey(k, "assert:usr_kim");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(spent(), 3);  // read, the named user's lock check, finish

  // A passkey with a username: the challenge's update reads the user's lock.
  pb::LoginState n = Start("alice");
  spent();
  ASSERT_TRUE(StartPasskey(n).ok());
  EXPECT_EQ(spent(), 2);  // read, update with the lock check

  // A wrong password: the failure is counted by the script that records the step.
  pb::LoginState w = Start("alice");
  spent();
  ASSERT_TRUE(Password(w, "wrong").ok());
  EXPECT_EQ(spent(), 3);  // read, reserve, update with the failure
}

TEST_F(LoginManagerTest, PasskeyIsOfferedOnlyToUsersWithOne) {
  passkeys_.AddPasskey("usr_alice");
  policy_.Set(dir_, Settings(50, 20, 10, 10, 30));
  pb::LoginState s = Start("alice");
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  EXPECT_THAT(Offered(*after),
              ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY));
  // Proven: the ceremony lists the user's credentials.
  absl::StatusOr<pb::StartPasskeyResponse> started = StartPasskey(s);
  ASSERT_TRUE(started.ok());
  EXPECT_THAT(started->request_options_json(), HasSubstr("cred-usr_alice"));
  after = FinishPasskey(s, "assert:usr_alice");
  EXPECT_EQ(after->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(after->score(), 50);

  // pat has none.
  pb::LoginState p = Start("pat");
  after = Password(p, "pat's password");
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(StartPasskey(p).status()));
}

// Issue 20 (Keycloak #46164): someone holding one factor (a swapped SIM) must not reset the
// password's count by passing that factor in a login of their own.
TEST_F(LoginManagerTest, ARightCodeDoesNotResetThePasswordsFailures) {
  pb::LoginState guess = Start("alice");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Password(guess, "wrong").ok());
  // The attacker's own logins: the right SMS code, then nothing more.
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(absl::Minutes(1));  // the OTP cooldown
    pb::LoginState sim = Start("alice");
    ASSERT_TRUE(Send(sim, otppb::CHANNEL_SMS).ok());
    absl::StatusOr<pb::LoginState> code = Verify(sim, otp_->CodeFor("+31612345678"));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
    EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 1);
  }
  // The fifth wrong password locks alice although right codes came in between.
  absl::StatusOr<pb::LoginState> fifth = Password(Start("alice"), "wrong");
  ASSERT_TRUE(fifth.ok()) << fifth.status();
  EXPECT_EQ(fifth->status(), pb::LOGIN_STATUS_LOCKED);
  // A login that succeeds (password and code) is what clears the count.
  clock_.Advance(absl::Hours(2));
  pb::LoginState real = Start("alice");
  ASSERT_EQ(Password(real, "correct horse")->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  ASSERT_TRUE(Send(real, otppb::CHANNEL_SMS).ok());
  EXPECT_EQ(Verify(real, otp_->CodeFor("+31612345678"))->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 5);
}

// Issue 20 (Authelia CVE-2025-24806): the lock of an unknown username follows the credential
// service's username key, so its spellings cannot tell whether the user exists.
TEST_F(LoginManagerTest, SpellingsOfOneUnknownUsernameShareOneLock) {
  const std::vector<std::string> spellings = {"bob", "bob ", " Bob", "BOB"};
  for (int i = 0; i < 5; ++i) {
    pb::LoginState s = Start(spellings[i % 4]);
    ASSERT_EQ(s.status(), pb::LOGIN_STATUS_IN_PROGRESS) << i;
    ASSERT_TRUE(Password(s, "wrong").ok());
  }
  for (const char* spelling : {"bob", "bob ", " BoB "}) {
    EXPECT_EQ(Start(spelling).status(), pb::LOGIN_STATUS_LOCKED) << spelling;
  }
  EXPECT_EQ(Start("bobby").status(), pb::LOGIN_STATUS_IN_PROGRESS);
}

// Issue 20 (Keycloak #26177): a login started before a lock does not survive it.
TEST_F(LoginManagerTest, ALockEndsThePendingLoginsOfItsUser) {
  pb::LoginState pending = Start("alice");
  ASSERT_EQ(Password(pending, "correct horse")->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  pb::LoginState attacker = Start("alice");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Password(attacker, "wrong").ok());
  clock_.Advance(absl::Minutes(2));  // the lock is over
  const size_t sends = otp_->sends.size();
  absl::StatusOr<pb::LoginState> sent = Send(pending, otppb::CHANNEL_SMS);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(otp_->sends.size(), sends);
  EXPECT_EQ(Get(pending)->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(Send(pending, otppb::CHANNEL_EMAIL)->status(), pb::LOGIN_STATUS_LOCKED);
  // A new login goes on.
  pb::LoginState fresh = Start("alice");
  EXPECT_EQ(Password(fresh, "correct horse")->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
}

// NIST SP 800-63B's cap: consecutive failures in total lock until UnlockUser.
TEST_F(LoginManagerTest, TooManyFailuresInTotalLockUntilUnlocked) {
  LockoutPolicy policy;
  policy.permanent_threshold = 12;
  InMemoryLoginStore store(policy, clock_);
  LoginManager manager(store, store, policy_, credentials_, *otp_, passkeys_, *sessions_, clock_,
                       CsprngRandom::Get(), LoginConfig{}, nullptr);
  auto start = [&] {
    pb::StartLoginRequest r;
    r.set_directory_id(dir_);
    r.set_username("alice");
    return manager.StartLogin(r, kNoDeadline)->state();
  };
  auto password = [&](const pb::LoginState& s, const std::string& pw) {
    pb::SubmitPasswordRequest r;
    r.set_login_id(s.login_id());
    r.set_password(pw);
    return manager.SubmitPassword(r, kNoDeadline)->state();
  };
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Hours(2));  // every temporary lock is over
    ASSERT_EQ(start().status(), pb::LOGIN_STATUS_IN_PROGRESS) << i;
    password(start(), "wrong");
  }
  clock_.Advance(absl::Hours(24 * 30));
  pb::LoginState locked = start();
  EXPECT_EQ(locked.status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_GT(locked.retry_after().seconds(), 3600 * 24 * 365);
  EXPECT_EQ(password(locked, "correct horse").status(), pb::LOGIN_STATUS_LOCKED);
  ASSERT_TRUE(store.Unlock(dir_, "u:usr_alice").ok());
  EXPECT_EQ(password(start(), "correct horse").last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
}

// Issue 20 (SMS pumping): the OTP service applies the send budgets; the login tells it the end
// user's address and whether a factor is proven.
TEST_F(LoginManagerTest, SendsCarryTheClientAddressAndWhetherAFactorIsProven) {
  pb::StartLoginRequest start;
  start.set_directory_id(dir_);
  start.set_username("alice");
  start.set_client_ip("198.51.100.7");
  absl::StatusOr<pb::StartLoginResponse> started = manager_->StartLogin(start, kNoDeadline);
  ASSERT_TRUE(started.ok()) << started.status();
  const pb::LoginState s = started->state();
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  ASSERT_EQ(Password(s, "correct horse")->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(Send(s, otppb::CHANNEL_SMS).ok());
  std::vector<otppb::SendCodeRequest> requests = otp_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].client_ip(), "198.51.100.7");
  EXPECT_FALSE(requests[0].proven());
  EXPECT_EQ(requests[1].client_ip(), "198.51.100.7");
  EXPECT_TRUE(requests[1].proven());
  // No address: no per-address budget. A malformed one is refused before anything is stored.
  ASSERT_TRUE(Send(Start("pat"), otppb::CHANNEL_EMAIL).ok());
  EXPECT_EQ(otp_->Requests().back().client_ip(), "");
  start.set_client_ip("not an address");
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->StartLogin(start, kNoDeadline).status()));
}

// Rule 7 with the directory's SMS countries: a phone outside them is never offered SMS, and
// before proof a send goes to nobody, as for a user without a phone.
TEST_F(LoginManagerTest, SmsGoesOnlyToTheDirectorysCountries) {
  ::tally::policy::v1::AuthSettings settings = Settings(30, 20, 10, 10, 30);
  settings.add_sms_allowed_country_codes("32");  // alice's +31 is outside
  policy_.Set(dir_, settings);
  pb::LoginState s = Start("alice");
  absl::StatusOr<pb::LoginState> sent = Send(s, otppb::CHANNEL_SMS);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_TRUE(otp_->Requests().back().no_recipient());
  EXPECT_TRUE(otp_->sends.empty());
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(Send(s, otppb::CHANNEL_SMS).status()));
  // Allowed again: offered again from the next step of a new login.
  settings.add_sms_allowed_country_codes("31");
  policy_.Set(dir_, settings);
  pb::LoginState t = Start("alice");
  after = Password(t, "correct horse");
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP));
}

// Issue 20: StartLogin is rate-limited per client address and per directory, with the reason and
// when to retry.
TEST_F(LoginManagerTest, StartLoginIsRateLimitedWithItsDetails) {
  testing::InMemoryStartLimiter limiter(
      StartLimits{.per_client_per_minute = 2, .per_directory_per_minute = 3});
  LoginManager manager(store_, store_, policy_, credentials_, *otp_, passkeys_, *sessions_, clock_,
                       CsprngRandom::Get(), LoginConfig{}, nullptr, &limiter);
  auto start = [&](const std::string& ip) {
    pb::StartLoginRequest r;
    r.set_directory_id(dir_);
    r.set_username("alice");
    r.set_client_ip(ip);
    return manager.StartLogin(r, kNoDeadline).status();
  };
  EXPECT_TRUE(start("203.0.113.5").ok());
  EXPECT_TRUE(start("203.0.113.5").ok());
  absl::Status refused = start("203.0.113.5");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(ErrorInfoOf(refused).has_value());
  EXPECT_EQ(ErrorInfoOf(refused)->reason(), "LOGIN_RATE_LIMITED");
  ASSERT_TRUE(RetryDelayOf(refused).has_value());
  EXPECT_GT(*RetryDelayOf(refused), absl::ZeroDuration());
  EXPECT_LE(*RetryDelayOf(refused), absl::Minutes(1));
  // Another address: the directory's limit is next.
  EXPECT_TRUE(start("203.0.113.6").ok());
  EXPECT_EQ(start("203.0.113.7").code(), absl::StatusCode::kResourceExhausted);
  // An unknown directory counts nothing.
  pb::StartLoginRequest unknown;
  unknown.set_directory_id("dir_unknown");
  unknown.set_username("alice");
  EXPECT_TRUE(absl::IsNotFound(manager.StartLogin(unknown, kNoDeadline).status()));
  // The next minute starts over.
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(start("203.0.113.5").ok());
}

// Issue 21, rule 7: TOTP and recovery codes are offered to a proven user only when they have
// them; the directory alone decides before the user is proven.
TEST_F(LoginManagerTest, TotpAndRecoveryCodesAreOfferedOnlyToUsersWithThem) {
  EnableTotpAndRecoveryCodes();
  credentials_.SetTotpCode("usr_alice", "123456");
  credentials_.SetRecoveryCodes("usr_alice", {"abcd-efgh-jkmn"});
  pb::LoginState s = Start("alice");
  EXPECT_THAT(Offered(s), ::testing::IsSupersetOf({AUTH_METHOD_TOTP, AUTH_METHOD_RECOVERY_CODE}));
  absl::StatusOr<pb::LoginState> after = Password(s, "correct horse");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP,
                                           AUTH_METHOD_TOTP, AUTH_METHOD_RECOVERY_CODE));

  // pat has neither: not offered, and refused before any check.
  pb::LoginState p = Start("pat");
  after = Password(p, "pat's password");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(Offered(*after), ElementsAre(AUTH_METHOD_EMAIL_OTP));
  EXPECT_TRUE(absl::IsFailedPrecondition(Totp(p, "123456").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(RecoveryCode(p, "abcd-efgh-jkmn").status()));
  EXPECT_EQ(credentials_.totp_calls, 0);
  EXPECT_EQ(credentials_.recovery_calls, 0);

  // A directory that gives TOTP no points offers it to nobody.
  policy_.Set(dir_, Settings(30, 20, 10, 10, 30));
  pb::LoginState off = Start("alice");
  EXPECT_TRUE(absl::IsFailedPrecondition(Totp(off, "123456").status()));
}

// Issue 21, rule 2: the right code completes TOTP once; the same code in another login is a
// replay, refused as a rejected TOTP step.
TEST_F(LoginManagerTest, PasswordAndTotpSucceedAndTheSameCodeIsRefusedAfter) {
  EnableTotpAndRecoveryCodes();
  credentials_.SetTotpCode("usr_alice", "123456");
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  absl::StatusOr<pb::LoginState> done = Totp(s, "123456");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done->score(), 30);
  EXPECT_THAT(Completed(*done), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_TOTP));
  EXPECT_EQ(done->last_step().method(), AUTH_METHOD_TOTP);
  EXPECT_EQ(done->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  absl::StatusOr<SessionClaims> claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(MethodsOf(*claims), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_TOTP));
  EXPECT_FALSE(done->has_recovery_codes_left());

  pb::LoginState again = Start("alice");
  ASSERT_TRUE(Password(again, "correct horse").ok());
  absl::StatusOr<pb::LoginState> replay = Totp(again, "123456");
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(replay->last_step().method(), AUTH_METHOD_TOTP);
  EXPECT_EQ(replay->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_THAT(Completed(*replay), ElementsAre(AUTH_METHOD_PASSWORD));
}

// Issue 21: a wrong TOTP code is a rejected step counted for TOTP, never for the password (and
// the other way round); TOTP's own limit locks the user.
TEST_F(LoginManagerTest, AWrongTotpCodeCountsForItsOwnMethod) {
  EnableTotpAndRecoveryCodes();
  credentials_.SetTotpCode("usr_alice", "123456");
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<pb::LoginState> wrong = Totp(s, "000000");
    ASSERT_TRUE(wrong.ok()) << wrong.status();
    EXPECT_EQ(wrong->status(), pb::LOGIN_STATUS_IN_PROGRESS);
    EXPECT_EQ(wrong->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(wrong->last_step().attempts_left(), 4 - i);
  }
  // Four wrong passwords on top: had they shared one count, the first would have locked.
  pb::LoginState guesses = Start("alice");
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<pb::LoginState> wrong = Password(guesses, "wrong");
    ASSERT_TRUE(wrong.ok()) << wrong.status();
    EXPECT_EQ(wrong->status(), pb::LOGIN_STATUS_IN_PROGRESS) << i;
  }
  // TOTP's fifth failure locks every method.
  pb::LoginState last = Start("alice");
  ASSERT_EQ(Password(last, "correct horse")->last_step().outcome(), pb::STEP_OUTCOME_ACCEPTED);
  absl::StatusOr<pb::LoginState> fifth = Totp(last, "000000");
  ASSERT_TRUE(fifth.ok()) << fifth.status();
  EXPECT_EQ(fifth->status(), pb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(Password(Start("alice"), "correct horse")->status(), pb::LOGIN_STATUS_LOCKED);
}

// An unknown username has no app: its code is rejected and counted like a wrong one, without
// asking the credential service about nobody.
TEST_F(LoginManagerTest, ATotpCodeForAnUnknownUsernameIsRejected) {
  EnableTotpAndRecoveryCodes();
  pb::LoginState s = Start("nobody");
  absl::StatusOr<pb::LoginState> after = Totp(s, "123456");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->last_step().method(), AUTH_METHOD_TOTP);
  EXPECT_EQ(after->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(after->last_step().attempts_left(), 4);
  EXPECT_EQ(credentials_.totp_calls, 0);
}

// A credential service that cannot check gives the reservation back and fails the step, counting
// nothing.
TEST_F(LoginManagerTest, ATotpCheckThatCannotRunCountsNothing) {
  EnableTotpAndRecoveryCodes();
  credentials_.SetTotpCode("usr_alice", "123456");
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  credentials_.factor_status = absl::UnavailableError("credential service unavailable");
  EXPECT_TRUE(absl::IsUnavailable(Totp(s, "123456").status()));
  EXPECT_EQ(*store_.AttemptsLeft(dir_, "u:usr_alice"), 5);
  credentials_.factor_status = absl::OkStatus();
  EXPECT_EQ(Totp(s, "123456")->status(), pb::LOGIN_STATUS_SUCCEEDED);
}

// Issue 21: a recovery code completes RECOVERY_CODE, the answer (and GetLogin) tells how many are
// left, the user is told by e-mail, and the code works once.
TEST_F(LoginManagerTest, ARecoveryCodeWorksOnceAndTellsTheUser) {
  EnableTotpAndRecoveryCodes();
  credentials_.SetRecoveryCodes("usr_alice", {"abcd-efgh-jkmn", "pqrs-tuvw-xyz2"});
  pb::LoginState s = Start("alice");
  ASSERT_TRUE(Password(s, "correct horse").ok());
  EXPECT_TRUE(otp_->Notices().empty());
  absl::StatusOr<pb::LoginState> done = RecoveryCode(s, "abcd-efgh-jkmn");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_THAT(Completed(*done), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_RECOVERY_CODE));
  ASSERT_TRUE(done->has_recovery_codes_left());
  EXPECT_EQ(done->recovery_codes_left(), 1);
  EXPECT_EQ(Get(s)->recovery_codes_left(), 1);
  absl::StatusOr<SessionClaims> claims = sessions_->Validate(done->session().token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(MethodsOf(*claims), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_RECOVERY_CODE));
  std::vector<otppb::SendNoticeRequest> notices = otp_->Notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].kind(), otppb::NOTICE_RECOVERY_CODE_USED);
  EXPECT_EQ(notices[0].channel(), otppb::CHANNEL_EMAIL);
  EXPECT_EQ(notices[0].destination(), "alice@example.com");
  EXPECT_EQ(notices[0].directory_id(), dir_);

  // The same code again: rejected, counted for RECOVERY_CODE, nobody told.
  pb::LoginState again = Start("alice");
  ASSERT_TRUE(Password(again, "correct horse").ok());
  absl::StatusOr<pb::LoginState> used = RecoveryCode(again, "abcd-efgh-jkmn");
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->status(), pb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(used->last_step().method(), AUTH_METHOD_RECOVERY_CODE);
  EXPECT_EQ(used->last_step().outcome(), pb::STEP_OUTCOME_REJECTED);
  EXPECT_EQ(used->last_step().attempts_left(), 4);
  EXPECT_FALSE(used->has_recovery_codes_left());
  EXPECT_EQ(otp_->Notices().size(), 1u);
  // A wrong password after it still has its own five.
  EXPECT_EQ(Password(Start("alice"), "wrong")->last_step().attempts_left(), 4);

  // A notice that cannot be sent never fails the login.
  otp_->notice_status = absl::UnavailableError("otp service unavailable");
  absl::StatusOr<pb::LoginState> last = RecoveryCode(again, "pqrs-tuvw-xyz2");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(last->recovery_codes_left(), 0);

  // No codes left: no longer offered.
  pb::LoginState none = Start("alice");
  ASSERT_TRUE(Password(none, "correct horse").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(RecoveryCode(none, "pqrs-tuvw-xyz2").status()));
}

// A user without an e-mail address uses a code all the same; there is nobody to tell.
TEST_F(LoginManagerTest, ARecoveryCodeWithoutAnEmailSendsNoNotice) {
  EnableTotpAndRecoveryCodes();
  credentials_.Add(dir_, "usr_lee", "lee", "lee's password", "", "");
  credentials_.SetRecoveryCodes("usr_lee", {"abcd-efgh-jkmn"});
  pb::LoginState s = Start("lee");
  ASSERT_TRUE(Password(s, "lee's password").ok());
  absl::StatusOr<pb::LoginState> done = RecoveryCode(s, "abcd-efgh-jkmn");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), pb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done->recovery_codes_left(), 0);
  EXPECT_TRUE(otp_->Notices().empty());
}

TEST_F(LoginManagerTest, TotpAndRecoveryCodeRequestsAreChecked) {
  EnableTotpAndRecoveryCodes();
  pb::LoginState s = Start("alice");
  EXPECT_TRUE(absl::IsInvalidArgument(Totp(s, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Totp(s, std::string(33, '1')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Totp(s, "12\xff" "456").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(RecoveryCode(s, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(RecoveryCode(s, std::string(65, 'a')).status()));
  pb::LoginState unknown;
  unknown.set_login_id("");
  EXPECT_TRUE(absl::IsInvalidArgument(Totp(unknown, "123456").status()));
  EXPECT_EQ(credentials_.totp_calls, 0);
  EXPECT_EQ(credentials_.recovery_calls, 0);
}

}  // namespace
}  // namespace tally::orchestrator
