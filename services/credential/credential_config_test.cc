#include "services/credential/credential_config.h"

#include <fstream>
#include <thread>

#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPostgres[] = "--postgres_url=postgresql://tally:pw@db:5432/tally";
// 32 bytes each, hex.
constexpr char kTotpKey[] =
    "--totp_encryption_key=746f74702d656e6372797074696f6e2d6b65792d666f722d74657374732d2121";
constexpr char kRecoveryKey[] =
    "--recovery_code_hmac_key=7265636f766572792d636f64652d686d61632d6b65792d666f722d7465737473";

constexpr char kRedis[] = "--redis_url=redis://cache";

absl::StatusOr<CredentialServerConfig> Config(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {kPostgres, kRedis, kTotpKey, kRecoveryKey});
  return ConfigFromFlagsForTest(flags, CredentialServerConfigFromFlags);
}

std::string Refusal(std::vector<std::string> flags) {
  return std::string(Config(std::move(flags)).status().message());
}

TEST(CredentialServerConfigTest, Defaults) {
  absl::StatusOr<CredentialServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:50052");
  EXPECT_EQ(config->postgres_schema, "credential");
  EXPECT_EQ(config->revocation_redis.host, "cache");
  EXPECT_EQ(config->hashing.argon2, (Argon2Params{19456, 2, 1}));
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(config->hashing.max_concurrent_hashes, threads);
  EXPECT_EQ(config->hashing.hash_queue_size, threads);
  EXPECT_EQ(config->password_rules.min_length, 8);
  EXPECT_TRUE(config->blocklist_file.empty());
  EXPECT_EQ(config->blocklist.size(), 0u);
}

TEST(CredentialServerConfigTest, TakesEveryValue) {
  const std::string path = ::testing::TempDir() + "/blocklist.txt";
  std::ofstream(path) << "# common\ncorrecthorse\nletmein123\n";
  absl::StatusOr<CredentialServerConfig> config =
      Config({"--argon2_memory_kib=65536", "--argon2_iterations=3", "--argon2_parallelism=2",
              "--max_concurrent_hashes=3", "--hash_queue_size=0", "--min_password_length=12",
              "--password_blocklist=" + path, "--redis_url=redis://cache",
              "--postgres_schema=users"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hashing.argon2, (Argon2Params{65536, 3, 2}));
  EXPECT_EQ(config->hashing.max_concurrent_hashes, 3);
  EXPECT_EQ(config->hashing.hash_queue_size, 0);
  EXPECT_EQ(config->password_rules.min_length, 12);
  EXPECT_EQ(config->blocklist_file, path);
  EXPECT_TRUE(config->blocklist.Contains("LetMeIn123"));
  EXPECT_EQ(config->revocation_redis.client_name, "tally-credential");
  EXPECT_EQ(config->postgres_schema, "users");
}

TEST(CredentialServerConfigTest, RefusesBadValues) {
  EXPECT_THAT(Refusal({"--argon2_memory_kib=4"}), StartsWith("--argon2_*: Argon2 memory"));
  EXPECT_THAT(Refusal({"--argon2_iterations=0"}), StartsWith("--argon2_*: Argon2 iterations"));
  EXPECT_THAT(Refusal({"--argon2_parallelism=99"}), StartsWith("--argon2_*: Argon2 parallelism"));
  EXPECT_EQ(Refusal({"--max_concurrent_hashes=-1"}), "--max_concurrent_hashes must be >= 0");
  EXPECT_EQ(Refusal({"--hash_queue_size=-2"}), "--hash_queue_size must be >= -1");
  EXPECT_EQ(Refusal({"--min_password_length=0"}), "--min_password_length must be 1 to 64");
  EXPECT_EQ(Refusal({"--min_password_length=65"}), "--min_password_length must be 1 to 64");
  EXPECT_THAT(Refusal({"--password_blocklist=/nonexistent/list.txt"}),
              StartsWith("--password_blocklist: cannot read"));
  EXPECT_EQ(Refusal({"--postgres_url="}), "--postgres_url is required");
  // Tokens are taken here: never without the revocation records.
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url (or --redis_cluster_nodes) is required");
  const std::string bad_redis = Refusal({"--redis_url=redis://u:hunter2@cache:port"});
  EXPECT_THAT(bad_redis, StartsWith("--redis_url: "));
  EXPECT_THAT(bad_redis, Not(HasSubstr("hunter2")));
}

TEST(CredentialServerConfigTest, SecondFactorKeysAreRequiredAndChecked) {
  absl::StatusOr<CredentialServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->totp.encryption_key, "totp-encryption-key-for-tests-!!");
  EXPECT_EQ(config->recovery_code_hmac_key, "recovery-code-hmac-key-for-tests");
  EXPECT_EQ(config->totp.enrollment_ttl, absl::Minutes(10));
  EXPECT_EQ(config->policy_addr, "127.0.0.1:50051");
  // Later flags win: an empty value is a missing key.
  EXPECT_THAT(Refusal({"--totp_encryption_key="}), StartsWith("--totp_encryption_key"));
  EXPECT_THAT(Refusal({"--recovery_code_hmac_key="}), StartsWith("--recovery_code_hmac_key"));
  const std::string short_key = Refusal({"--totp_encryption_key=c2hvcnQta2V5"});
  EXPECT_EQ(short_key, "--totp_encryption_key must decode to exactly 32 bytes");
  EXPECT_THAT(Refusal({"--recovery_code_hmac_key=746f74702d656e6372797074696f6e2d6b65792d666f"
                       "722d74657374732d2121"}),
              HasSubstr("must be different keys"));
  EXPECT_THAT(Refusal({"--totp_enrollment_ttl=10s"}), StartsWith("--totp_enrollment_ttl"));
  EXPECT_EQ(config->factors.attempts_per_window, 10);
  EXPECT_EQ(config->factors.attempt_window, absl::Minutes(15));
  EXPECT_THAT(Refusal({"--factor_attempts=0"}), StartsWith("--factor_attempts"));
}

TEST(CredentialServerConfigTest, TheOtpPeerAndTheCurrentPasswordBudget) {
  absl::StatusOr<CredentialServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->otp_addr, "127.0.0.1:50053");
  EXPECT_EQ(config->otp_timeout, absl::Seconds(2));
  EXPECT_EQ(config->account.current_password_attempts, 5);
  EXPECT_EQ(config->account.current_password_attempt_window, absl::Minutes(15));
  config = Config({"--otp_addr=dns:///tally-otp-api:50053", "--otp_timeout=3s",
                   "--current_password_attempts=3", "--current_password_attempt_window=1h"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->otp_addr, "dns:///tally-otp-api:50053");
  EXPECT_EQ(config->otp_timeout, absl::Seconds(3));
  EXPECT_EQ(config->account.current_password_attempts, 3);
  EXPECT_EQ(config->account.current_password_attempt_window, absl::Hours(1));
  EXPECT_EQ(Refusal({"--otp_addr="}), "--otp_addr is required");
  EXPECT_EQ(Refusal({"--otp_timeout=0s"}), "--otp_timeout must be positive");
  EXPECT_THAT(Refusal({"--current_password_attempts=0"}),
              StartsWith("--current_password_attempts"));
  EXPECT_THAT(Refusal({"--current_password_attempt_window=10s"}),
              StartsWith("--current_password_attempts"));
}

}  // namespace
}  // namespace tally::credential
