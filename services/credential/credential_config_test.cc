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
constexpr char kRedis[] = "--redis_url=redis://cache";

absl::StatusOr<CredentialServerConfig> Config(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {kPostgres, kRedis});
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
  EXPECT_EQ(config->argon2, (Argon2Params{19456, 2, 1}));
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(config->max_concurrent_hashes, threads);
  EXPECT_EQ(config->hash_queue_size, threads);
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
  EXPECT_EQ(config->argon2, (Argon2Params{65536, 3, 2}));
  EXPECT_EQ(config->max_concurrent_hashes, 3);
  EXPECT_EQ(config->hash_queue_size, 0);
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
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url is required");
  const std::string bad_redis = Refusal({"--redis_url=redis://u:hunter2@cache:port"});
  EXPECT_THAT(bad_redis, StartsWith("--redis_url: "));
  EXPECT_THAT(bad_redis, Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace tally::credential
