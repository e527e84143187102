#include "services/orchestrator/session_manager.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "common/auth/testing/in_memory_revocation_store.h"
#include "common/testing/fake_clock.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TOTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;
using ::testing::ElementsAre;

SessionRequest PasswordAndSms(absl::Time auth_time) {
  SessionRequest request;
  request.user_id = "usr_1";
  request.directory_id = "dir_1";
  request.roles = {"admin"};
  request.methods = {AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP};
  request.level = 30;
  request.auth_time = auth_time;
  return request;
}

class SessionManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_key_ = *Ed25519PrivateKey::Generate();
    new_key_ = *Ed25519PrivateKey::Generate();
    keys_ = *SigningKeys::FromKeys({*new_key_, *old_key_}, "tally", clock_);
  }
  SessionManager Manager(std::shared_ptr<const SigningKeys> keys) {
    return SessionManager(std::move(keys), revocations_, clock_, CsprngRandom::Get(),
                          absl::Hours(8));
  }

  testing::FakeClock clock_{absl::FromUnixSeconds(1900000000)};
  tally::testing::InMemoryRevocationStore revocations_{clock_};
  std::optional<Ed25519PrivateKey> old_key_, new_key_;
  std::shared_ptr<const SigningKeys> keys_;
};

TEST(AmrTest, Rfc8176Names) {
  EXPECT_THAT(AmrFor({AUTH_METHOD_PASSWORD}, false), ElementsAre("pwd"));
  EXPECT_THAT(AmrFor({AUTH_METHOD_PASSWORD, AUTH_METHOD_EMAIL_OTP}, false),
              ElementsAre("pwd", "otp", "mfa"));
  EXPECT_THAT(AmrFor({AUTH_METHOD_PASSKEY}, false), ElementsAre("hwk"));
  EXPECT_THAT(AmrFor({AUTH_METHOD_PASSKEY}, true), ElementsAre("swk"));
  EXPECT_THAT(MethodsFromAmr({"pwd", "sms", "mfa", "otp", "swk"}),
              ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP,
                          AUTH_METHOD_PASSKEY));
}

TEST(MethodNamesTest, EveryKnownMethodHasATallyNameThatReadsBack) {
  EXPECT_EQ(MethodName(AUTH_METHOD_PASSWORD), "password");
  EXPECT_EQ(MethodName(AUTH_METHOD_SMS_OTP), "sms");
  EXPECT_EQ(MethodName(AUTH_METHOD_EMAIL_OTP), "email");
  EXPECT_EQ(MethodName(AUTH_METHOD_PASSKEY), "passkey");
  EXPECT_EQ(MethodName(AUTH_METHOD_TOTP), "totp");
  EXPECT_EQ(MethodName(AUTH_METHOD_RECOVERY_CODE), "recovery_code");
  EXPECT_EQ(MethodName(AUTH_METHOD_TRUSTED_DEVICE), "trusted_device");
  for (AuthMethod method : policy::KnownMethods()) {
    EXPECT_EQ(MethodFromName(MethodName(method)), method);
  }
  EXPECT_EQ(MethodFromName("pwd"), ::tally::common::v1::AUTH_METHOD_UNSPECIFIED);
  EXPECT_EQ(MethodFromName(""), ::tally::common::v1::AUTH_METHOD_UNSPECIFIED);
  // TOTP and e-mail codes share RFC 8176's "otp"; recovery codes and devices have no amr value.
  EXPECT_THAT(AmrFor({AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_TOTP}, false), ElementsAre("otp", "mfa"));
  EXPECT_THAT(AmrFor({AUTH_METHOD_PASSWORD, AUTH_METHOD_RECOVERY_CODE}, false),
              ElementsAre("pwd", "mfa"));
}

TEST(MethodNamesTest, TokensFromBeforeTheMethodsClaimAreReadByTheirAmr) {
  SessionClaims old;
  old.amr = {"pwd", "sms", "mfa"};
  old.amr_times = {{"pwd", absl::FromUnixSeconds(100)}, {"sms", absl::FromUnixSeconds(200)}};
  EXPECT_THAT(MethodsOf(old), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP));
  EXPECT_EQ(MethodTimesOf(old), (std::map<AuthMethod, absl::Time>{
                                    {AUTH_METHOD_PASSWORD, absl::FromUnixSeconds(100)},
                                    {AUTH_METHOD_SMS_OTP, absl::FromUnixSeconds(200)}}));
  SessionClaims now;
  now.amr = {"pwd", "otp", "mfa"};
  now.methods = {"password", "totp"};
  now.amr_times = {{"password", absl::FromUnixSeconds(100)}, {"totp", absl::FromUnixSeconds(200)}};
  EXPECT_THAT(MethodsOf(now), ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_TOTP));
  EXPECT_EQ(MethodTimesOf(now), (std::map<AuthMethod, absl::Time>{
                                    {AUTH_METHOD_PASSWORD, absl::FromUnixSeconds(100)},
                                    {AUTH_METHOD_TOTP, absl::FromUnixSeconds(200)}}));
}

TEST_F(SessionManagerTest, IssuedTokensValidateWithTheirClaims) {
  SessionManager manager = Manager(keys_);
  auto session = manager.Issue(PasswordAndSms(clock_.Now() - absl::Seconds(5)));
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->expires_at, clock_.Now() + absl::Hours(8));
  auto claims = manager.Validate(session->token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "usr_1");
  EXPECT_EQ(claims->directory_id, "dir_1");
  EXPECT_EQ(claims->session_id, session->session_id);
  EXPECT_EQ(claims->acr, "30");
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "sms", "mfa"));
  EXPECT_THAT(claims->methods, ElementsAre("password", "sms"));
  EXPECT_THAT(claims->roles, ElementsAre("admin"));
  EXPECT_EQ(claims->auth_time, clock_.Now() - absl::Seconds(5));
  EXPECT_EQ(claims->issuer, "tally");
}

TEST_F(SessionManagerTest, ExpiredTokensAreRefused) {
  SessionManager manager = Manager(keys_);
  auto session = manager.Issue(PasswordAndSms(clock_.Now()));
  ASSERT_TRUE(session.ok());
  clock_.Advance(absl::Hours(9));
  EXPECT_EQ(manager.Validate(session->token).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionManagerTest, RevokedUntilExpiry) {
  SessionManager manager = Manager(keys_);
  auto session = manager.Issue(PasswordAndSms(clock_.Now()));
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(manager.Revoke(session->token).ok());
  ASSERT_TRUE(manager.Revoke(session->token).ok());  // twice is fine
  // Until verifiers refuse the token as expired: its expiry plus their leeway.
  EXPECT_EQ(*revocations_.TimeToLive(RevokedSessionKey("dir_1", session->session_id)),
            session->expires_at + kTokenLeeway - clock_.Now());
  auto claims = manager.Validate(session->token);
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(claims.status().message()), ::testing::HasSubstr("revoked"));
  EXPECT_EQ(manager.Revoke("garbage").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionManagerTest, ALoginStartsAFamilyAndAStepUpJoinsItUntilItsExpiry) {
  SessionManager manager = Manager(keys_);
  auto login = manager.Issue(PasswordAndSms(clock_.Now()));
  ASSERT_TRUE(login.ok()) << login.status();
  auto login_claims = manager.Validate(login->token);
  ASSERT_TRUE(login_claims.ok());
  EXPECT_EQ(login_claims->family_id, login->session_id);

  clock_.Advance(absl::Hours(2));
  SessionRequest step_up = PasswordAndSms(clock_.Now());
  step_up.level = 60;
  step_up.family = FamilyOf(*login_claims);
  auto stepped = manager.Issue(step_up);
  ASSERT_TRUE(stepped.ok()) << stepped.status();
  auto stepped_claims = manager.Validate(stepped->token);
  ASSERT_TRUE(stepped_claims.ok());
  EXPECT_NE(stepped->session_id, login->session_id);
  EXPECT_EQ(stepped_claims->family_id, login->session_id);
  // Never later than the session it steps up: not a silent refresh.
  EXPECT_EQ(stepped->expires_at, login->expires_at);

  clock_.Set(login->expires_at);
  EXPECT_EQ(manager.Issue(step_up).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionManagerTest, RevokingEitherTokenOfAFamilyRevokesBoth) {
  SessionManager manager = Manager(keys_);
  for (bool revoke_the_step_up : {true, false}) {
    auto login = manager.Issue(PasswordAndSms(clock_.Now()));
    ASSERT_TRUE(login.ok());
    SessionRequest step_up = PasswordAndSms(clock_.Now());
    step_up.family = FamilyOf(*manager.Validate(login->token));
    auto stepped = manager.Issue(step_up);
    ASSERT_TRUE(stepped.ok());
    ASSERT_TRUE(manager.Revoke(revoke_the_step_up ? stepped->token : login->token).ok());
    EXPECT_EQ(manager.Validate(login->token).status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(manager.Validate(stepped->token).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
}

TEST_F(SessionManagerTest, AUserRevocationEndsTheUsersEarlierSessionsOnly) {
  SessionManager manager = Manager(keys_);
  clock_.Advance(absl::Milliseconds(250));
  auto before = manager.Issue(PasswordAndSms(clock_.Now()));
  clock_.Advance(absl::Milliseconds(250));
  ASSERT_TRUE(revocations_.RevokeUser("dir_1", "usr_1", clock_.Now()).ok());
  clock_.Advance(absl::Milliseconds(250));
  auto after = manager.Issue(PasswordAndSms(clock_.Now()));
  EXPECT_EQ(manager.Validate(before->token).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(manager.Validate(after->token).ok());
}

TEST_F(SessionManagerTest, RevocationStoreDownIsUnavailable) {
  SessionManager manager = Manager(keys_);
  auto session = manager.Issue(PasswordAndSms(clock_.Now()));
  revocations_.Fail(absl::UnavailableError("redis unavailable"));
  EXPECT_EQ(manager.Validate(session->token).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(SessionManagerTest, RotationKeepsOldTokensValidAndPublishesEveryKey) {
  // Before the rotation only the old key existed.
  SessionManager before = Manager(*SigningKeys::FromKeys({*old_key_}, "tally", clock_));
  auto old_token = before.Issue(PasswordAndSms(clock_.Now()));
  ASSERT_TRUE(old_token.ok());
  SessionManager after = Manager(keys_);
  EXPECT_TRUE(after.Validate(old_token->token).ok());
  auto new_token = after.Issue(PasswordAndSms(clock_.Now()));
  const auto header = nlohmann::json::parse(
      [&] {
        std::string decoded;
        Base64UrlDecode(new_token->token.substr(0, new_token->token.find('.')), &decoded);
        return decoded;
      }());
  EXPECT_EQ(header["kid"], new_key_->PublicKey().Kid()) << "the newest key signs";
  EXPECT_EQ(header["alg"], "EdDSA");
  const auto jwks = nlohmann::json::parse(after.Jwks());
  ASSERT_EQ(jwks["keys"].size(), 2u);
  // A token of a key that is no longer configured is refused.
  SessionManager only_new = Manager(*SigningKeys::FromKeys({*new_key_}, "tally", clock_));
  EXPECT_EQ(only_new.Validate(old_token->token).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace tally::orchestrator
