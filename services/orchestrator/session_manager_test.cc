#include "services/orchestrator/session_manager.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally::orchestrator {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::testing::ElementsAre;

class FakeRevocations : public RevocationStore {
 public:
  absl::Status Revoke(absl::string_view dir, absl::string_view sid, absl::Time until) override {
    revoked[absl::StrCat(dir, "/", sid)] = until;
    return status;
  }
  absl::StatusOr<bool> IsRevoked(absl::string_view dir, absl::string_view sid) const override {
    if (!status.ok()) return status;
    return revoked.count(absl::StrCat(dir, "/", sid)) > 0;
  }
  std::map<std::string, absl::Time> revoked;
  absl::Status status = absl::OkStatus();
};

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
  FakeRevocations revocations_;
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
  EXPECT_EQ(revocations_.revoked.begin()->second, session->expires_at);
  auto claims = manager.Validate(session->token);
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(claims.status().message()), ::testing::HasSubstr("revoked"));
  EXPECT_EQ(manager.Revoke("garbage").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionManagerTest, RevocationStoreDownIsUnavailable) {
  SessionManager manager = Manager(keys_);
  auto session = manager.Issue(PasswordAndSms(clock_.Now()));
  revocations_.status = absl::UnavailableError("redis unavailable");
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
