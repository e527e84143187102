// End to end (issue 19, "Sessions never outlive what proved them" and "User verification"):
// step-up, GetLogin and user verification against the whole cluster as separate processes.
// The passkey service runs with --user_verification=preferred, so it accepts a touch-only
// assertion (UV=0) and the orchestrator alone must refuse it.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/util/text.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/soft_authenticator.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace cpb = ::tally::common::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
using testing::Cluster;
using testing::ClusterOptions;
using webauthn::testing::SoftAuthenticator;

class StepUpTest : public testing::ClusterTest<StepUpTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.orchestrators = 1;
    options.flags["passkey"] = {"--user_verification=preferred"};
    return options;
  }

 protected:
  // A password + SMS login of `user` (30 points in a FREEMIUM directory); the final state.
  opb::LoginState PasswordAndSms(const std::string& dir, const Cluster::User& user) {
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir, user);
    EXPECT_TRUE(token.ok()) << token.status();
    opb::LoginState state;
    state.mutable_session()->set_token(token.value_or(""));
    return state;
  }
  absl::StatusOr<opb::LoginState> StepUp(const std::string& token, int level, int max_age) {
    opb::StartStepUpRequest request;
    request.set_session_token(token);
    request.set_required_level(level);
    request.set_max_age_seconds(max_age);
    opb::StartStepUpResponse response;
    grpc::Status s =
        cluster().logins().StartStepUp(testing::NewContext().get(), request, &response);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                                     s.error_message());
    return response.state();
  }
  // The login's state after the user's password.
  opb::LoginState Password(const std::string& login) {
    opb::LoginState state;
    grpc::Status s =
        testing::SubmitPassword(cluster().logins(), login, testing::kClusterPassword, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return state;
  }
  bool Valid(const std::string& token, opb::ValidateSessionResponse* claims = nullptr) {
    return testing::ValidateSession(cluster().sessions(), token, claims).ok();
  }
  // The token's payload as JSON (the signature is the services' to check).
  static nlohmann::json Payload(const std::string& token) {
    const std::vector<std::string> parts = absl::StrSplit(token, '.');
    std::string json;
    if (parts.size() != 3 || !Base64UrlDecode(parts[1], &json)) return nullptr;
    return nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  }
};

TEST_F(StepUpTest, AStepUpThatCompletesNoNewMethodIsRefused) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User ann = cluster().CreateUser(dir, "ann");
  const std::string token = PasswordAndSms(dir, ann).session().token();
  ASSERT_FALSE(token.empty());

  // The session's password and SMS (30) reach the level asked: still no new token.
  absl::StatusOr<opb::LoginState> up = StepUp(token, 30, 600);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(up->score(), 30);
  EXPECT_FALSE(up->has_session());
  std::vector<int> offered;
  for (const cpb::MethodPoints& mp : up->offered_methods()) offered.push_back(mp.method());
  // Carried methods stay on offer.
  EXPECT_EQ(offered, (std::vector<int>{cpb::AUTH_METHOD_PASSWORD, cpb::AUTH_METHOD_SMS_OTP,
                                       cpb::AUTH_METHOD_EMAIL_OTP}));
  opb::LoginState got;
  ASSERT_TRUE(testing::GetLogin(cluster().logins(), up->login_id(), &got).ok());
  EXPECT_EQ(got.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_FALSE(got.has_session());

  // Redoing a carried method counts.
  const opb::LoginState done = Password(up->login_id());
  ASSERT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_TRUE(Valid(done.session().token()));
}

TEST_F(StepUpTest, AStepUpNeverOutlivesTheSessionItStepsUp) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User bob = cluster().CreateUser(dir, "bob");
  const std::string token = PasswordAndSms(dir, bob).session().token();
  opb::ValidateSessionResponse original;
  ASSERT_TRUE(Valid(token, &original));
  absl::SleepFor(absl::Seconds(1));  // the step-up token is issued in a later second

  absl::StatusOr<opb::LoginState> up = StepUp(token, 30, 600);
  ASSERT_TRUE(up.ok()) << up.status();
  const opb::LoginState done = Password(up->login_id());
  ASSERT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
  opb::ValidateSessionResponse stepped;
  ASSERT_TRUE(Valid(done.session().token(), &stepped));
  EXPECT_NE(stepped.session_id(), original.session_id());
  EXPECT_LE(stepped.expire_time().seconds(), original.expire_time().seconds());
  EXPECT_LE(done.session().expire_time().seconds(), original.expire_time().seconds());
  EXPECT_LE(Payload(done.session().token())["exp"], Payload(token)["exp"]);
}

TEST_F(StepUpTest, RevokingEitherTokenOfAStepUpRevokesBoth) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User cy = cluster().CreateUser(dir, "cy");
  for (bool revoke_the_step_up : {false, true}) {
    SCOPED_TRACE(revoke_the_step_up ? "revoke the step-up's token" : "revoke the original");
    const std::string token = PasswordAndSms(dir, cy).session().token();
    absl::StatusOr<opb::LoginState> up = StepUp(token, 30, 600);
    ASSERT_TRUE(up.ok()) << up.status();
    const std::string stepped = Password(up->login_id()).session().token();
    ASSERT_TRUE(Valid(token));
    ASSERT_TRUE(Valid(stepped));

    opb::RevokeSessionRequest revoke;
    revoke.set_token(revoke_the_step_up ? stepped : token);
    opb::RevokeSessionResponse revoked;
    ASSERT_TRUE(
        cluster().sessions().RevokeSession(testing::NewContext().get(), revoke, &revoked).ok());
    EXPECT_FALSE(Valid(token));
    EXPECT_FALSE(Valid(stepped));
    // Nor does the dead session buy a new step-up.
    EXPECT_TRUE(absl::IsUnauthenticated(StepUp(token, 30, 600).status()));
  }
}

TEST_F(StepUpTest, GetLoginOfAFinishedLoginHasNoToken) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User dee = cluster().CreateUser(dir, "dee");
  opb::LoginState state;
  ASSERT_TRUE(testing::StartLogin(cluster().logins(), dir, dee.username, &state).ok());
  const std::string login = state.login_id();
  Password(login);
  const size_t mark = cluster().OutboxMark();
  ASSERT_TRUE(testing::SendOtp(cluster().logins(), login, otppb::CHANNEL_SMS, &state).ok());
  const std::string code = cluster().WaitForCode(mark, "sms", dee.phone);
  ASSERT_FALSE(code.empty());
  ASSERT_TRUE(testing::VerifyOtp(cluster().logins(), login, code, &state).ok());
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  ASSERT_FALSE(state.session().token().empty()) << "the finishing step carries the token";

  opb::LoginState got;
  ASSERT_TRUE(testing::GetLogin(cluster().logins(), login, &got).ok());
  EXPECT_EQ(got.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(got.session().session_id(), state.session().session_id());
  EXPECT_TRUE(got.session().token().empty());
}

TEST_F(StepUpTest, TheTokenCarriesTallysMethodNames) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User eve = cluster().CreateUser(dir, "eve");
  const std::string token = PasswordAndSms(dir, eve).session().token();
  const nlohmann::json payload = Payload(token);
  ASSERT_TRUE(payload.is_object());
  EXPECT_EQ(payload["methods"], (nlohmann::json{"password", "sms"}));
  EXPECT_EQ(payload["amr"], (nlohmann::json{"pwd", "sms", "mfa"}));
  ASSERT_TRUE(payload["amr_time"].is_object());
  EXPECT_TRUE(payload["amr_time"].contains("password"));
  EXPECT_TRUE(payload["amr_time"].contains("sms"));
  opb::ValidateSessionResponse claims;
  ASSERT_TRUE(Valid(token, &claims));
  EXPECT_EQ(std::vector<int>(claims.methods().begin(), claims.methods().end()),
            (std::vector<int>{cpb::AUTH_METHOD_PASSWORD, cpb::AUTH_METHOD_SMS_OTP}));
}

TEST_F(StepUpTest, AnAssertionWithoutUserVerificationDoesNotCompleteALogin) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User fay = cluster().CreateUser(dir, "fay");
  const std::string token = PasswordAndSms(dir, fay).session().token();
  SoftAuthenticator key(SoftAuthenticator::Alg::kES256);
  absl::StatusOr<passkey::v1::Passkey> registered =
      testing::RegisterPasskey(cluster(), dir, fay, token, key);
  ASSERT_TRUE(registered.ok()) << registered.status();

  // The same key without its PIN: user presence only. The passkey service (UV preferred)
  // accepts the assertion; the orchestrator does not count it.
  key.set_verifies_user(false);
  for (const std::string& username : {fay.username, std::string()}) {
    SCOPED_TRACE(username.empty() ? "passkey first" : "with the username");
    opb::LoginState state;
    grpc::Status s = testing::PasskeyLogin(cluster().logins(), dir, username, key, &state);
    ASSERT_TRUE(s.ok()) << testing::Describe(s);
    EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
    EXPECT_EQ(state.score(), 0);
    EXPECT_EQ(state.last_step().method(), cpb::AUTH_METHOD_PASSKEY);
    EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
    EXPECT_FALSE(state.has_session());
  }
  // With user verification the same key logs fay in.
  key.set_verifies_user(true);
  opb::LoginState state;
  grpc::Status s = testing::PasskeyLogin(cluster().logins(), dir, fay.username, key, &state);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
}

}  // namespace
}  // namespace tally
