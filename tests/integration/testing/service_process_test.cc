// The test launcher (common/testing/service_process.h) and the test keys against real binaries:
// what every integration, end-to-end and fault test relies on when it starts a service.

#include "common/testing/service_process.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/jwt.h"
#include "common/testing/test_keys.h"
#include "common/testing/test_support.h"
#include "common/util/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::testing {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A test OTP key (32 bytes, hex); tally-otp refuses to start without one.
constexpr char kOtpKey[] = "746573742d6f6e6c79206b657920666f72207365727669636550726f63657373";

ServiceOptions OtpWithRedisDown() {
  return {.binary = "tally-otp",
          .flags = {"--role=api"},
          .redis_url = absl::StrCat("redis://127.0.0.1:", FreePort()),  // nothing listens
          .env = {{"TALLY_OTP_HMAC_KEY", kOtpKey}, {"TALLY_OTP_ENCRYPTION_KEY", kOtpKey}}};
}

TEST(TestKeysTest, TokensVerifyAgainstTheJwksFileAndKeysDifferPerCall) {
  absl::StatusOr<std::shared_ptr<const TestKeys>> keys = TestKeys::Make();
  ASSERT_TRUE(keys.ok()) << keys.status();
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromJwks(
      ReadFile((*keys)->jwks_path()), {.issuer = "tally"}, SystemClock::Get());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_THAT(verifier->Kids(), ElementsAre((*keys)->signer().kid()));

  const std::string token = (*keys)->Token(
      {.directory_id = "dir_keys", .user_id = "usr_keys", .roles = {"admin"}, .acr = "20"});
  absl::StatusOr<SessionClaims> claims = verifier->Verify(token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->directory_id, "dir_keys");
  EXPECT_EQ(claims->subject, "usr_keys");
  EXPECT_THAT(claims->roles, ElementsAre("admin"));
  EXPECT_EQ(claims->acr, "20");
  EXPECT_THAT(claims->amr, ElementsAre("pwd", "sms", "mfa"));
  EXPECT_EQ(claims->session_id, "ses_test");
  EXPECT_EQ(claims->Family(), "ses_test");
  // A step-up's token joins its login's family ("fam"), which revocation reads.
  absl::StatusOr<SessionClaims> step_up = verifier->Verify((*keys)->Token(
      {.directory_id = "dir_keys", .user_id = "usr_keys", .session_id = "ses_up",
       .family_id = "ses_login"}));
  ASSERT_TRUE(step_up.ok()) << step_up.status();
  EXPECT_EQ(step_up->Family(), "ses_login");

  // The signing key is the PEM the orchestrator reads; the environment names both files.
  absl::StatusOr<JwtSigner> from_file = JwtSigner::FromPemFile((*keys)->signing_key_path());
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->kid(), (*keys)->signer().kid());
  const std::map<std::string, std::string> env = (*keys)->Env();
  EXPECT_EQ(env.at("TALLY_JWKS_FILE"), (*keys)->jwks_path());
  EXPECT_EQ(env.at("TALLY_SIGNING_KEY_FILES"), (*keys)->signing_key_path());
  EXPECT_EQ(env.at("TALLY_PLATFORM_KEY"), (*keys)->platform_key());
  EXPECT_GE((*keys)->platform_key().size(), 16u);
  // The credential service's two keys: 32 random bytes each in hex, never the same key.
  const std::string& totp_key = env.at("TALLY_TOTP_ENCRYPTION_KEY");
  const std::string& recovery_key = env.at("TALLY_RECOVERY_CODE_HMAC_KEY");
  EXPECT_THAT(totp_key, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_THAT(recovery_key, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_NE(totp_key, recovery_key);

  absl::StatusOr<std::shared_ptr<const TestKeys>> other = TestKeys::Make();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->signer().kid(), (*keys)->signer().kid());
  EXPECT_NE((*other)->platform_key(), (*keys)->platform_key());
  EXPECT_NE((*other)->Env().at("TALLY_TOTP_ENCRYPTION_KEY"), totp_key);
  EXPECT_FALSE(verifier->Verify((*other)->Token({.directory_id = "d", .user_id = "u"})).ok());
}

TEST(ServiceProcessTest, StartsAServiceThatServesThenStopsIt) {
  ServiceProcess policy({.binary = "tally-policy",
                         .flags = {absl::StrCat("--postgres_schema=policy_sp_", UniqueSuffix())},
                         .postgres_url = RequiredEnv("TALLY_TEST_POSTGRES_URL"),
                         .redis_url = RequiredEnv("TALLY_TEST_REDIS_URL")});
  const absl::Status started = policy.Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(policy.Serving());
  EXPECT_THAT(policy.argv(), ::testing::Contains(absl::StrCat("--listen=", policy.address())));
  EXPECT_THAT(policy.Metrics(), HasSubstr("tally_store_up{store=\"postgres\"} 1"));
  // The keys reach the service: its platform key is the one to call it with.
  EXPECT_GE(policy.keys().platform_key().size(), 16u);

  const int port = policy.port();
  const pid_t first = policy.process().pid();
  const absl::Status restarted = policy.Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ(policy.port(), port);
  EXPECT_NE(policy.process().pid(), first);
  EXPECT_TRUE(policy.Serving());

  absl::StatusOr<int> code = policy.Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << policy.Output();
  EXPECT_FALSE(policy.process().running());
  EXPECT_FALSE(policy.Stop().ok()) << "stopping twice";
}

TEST(ServiceProcessTest, AServiceThatExitsAtStartUpIsAnErrorWithItsOutput) {
  ServiceProcess policy({.binary = "tally-policy"});  // no PostgreSQL URL: exits with code 2
  const absl::Status started = policy.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
  EXPECT_THAT(started.message(), HasSubstr("exited with code 2"));
  EXPECT_THAT(started.message(), HasSubstr("--postgres_url is required"));
}

TEST(ServiceProcessTest, WaitsForServingOrOnlyForAConnectionWhenAsked) {
  ServiceOptions serving = OtpWithRedisDown();
  serving.start_timeout = absl::Seconds(3);
  ServiceProcess never_ready(serving);
  const absl::Status started = never_ready.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kDeadlineExceeded) << started;
  EXPECT_THAT(started.message(), HasSubstr("was not SERVING"));

  ServiceOptions connected = OtpWithRedisDown();
  connected.ready = ServiceOptions::Ready::kConnected;
  ServiceProcess reachable(connected);
  const absl::Status up = reachable.Start();
  ASSERT_TRUE(up.ok()) << up;
  EXPECT_TRUE(WaitFor([&] { return reachable.Health() == HealthCheckResponse::NOT_SERVING; },
                      absl::Seconds(10)));
}

}  // namespace
}  // namespace tally::testing
