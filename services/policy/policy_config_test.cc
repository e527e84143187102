#include "services/policy/policy_config.h"

#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPostgres[] = "--postgres_url=postgresql://tally:pw@db:5432/tally";
constexpr char kRedis[] = "--redis_url=redis://cache:6380/1";

absl::StatusOr<PolicyServerConfig> Config(const std::vector<std::string>& flags) {
  return ConfigFromFlagsForTest(flags, PolicyServerConfigFromFlags);
}

std::string Refusal(const std::vector<std::string>& flags) {
  return std::string(Config(flags).status().message());
}

TEST(PolicyServerConfigTest, Defaults) {
  absl::StatusOr<PolicyServerConfig> config = Config({kPostgres, kRedis});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:50051");
  EXPECT_EQ(config->server.metrics_listen, "0.0.0.0:51051");
  EXPECT_EQ(config->postgres.url, "postgresql://tally:pw@db:5432/tally");
  EXPECT_EQ(config->postgres.pool_size, 8);
  EXPECT_EQ(config->postgres_schema, "policy");
  EXPECT_EQ(config->settings_metrics_interval, absl::Minutes(1));
}

TEST(PolicyServerConfigTest, RevocationRedis) {
  absl::StatusOr<PolicyServerConfig> config =
      Config({kPostgres, kRedis, "--postgres_schema=policy_eu"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->revocation_redis.host, "cache");
  EXPECT_EQ(config->revocation_redis.port, 6380);
  EXPECT_EQ(config->revocation_redis.client_name, "tally-policy");
  EXPECT_EQ(config->postgres_schema, "policy_eu");
}

TEST(PolicyServerConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({kRedis}), "--postgres_url is required");
  // Tokens are taken here: never without the revocation records.
  EXPECT_EQ(Refusal({kPostgres}), "--redis_url (or --redis_cluster_nodes) is required");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--postgres_pool_size=0"}), "--postgres_pool_size must be >= 1");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--drain_grace=2m"}), "--drain_grace must be between 0s and 1m");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--listen=nowhere"}), "--listen must be host:port");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--tls_cert=/etc/tally/tls.crt"}),
            "--tls_cert, --tls_key and --tls_ca go together");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--settings_metrics_interval=0s"}),
            "--settings_metrics_interval must be > 0s and at most 1h");
  EXPECT_EQ(Refusal({kPostgres, kRedis, "--settings_metrics_interval=2h"}),
            "--settings_metrics_interval must be > 0s and at most 1h");
  const std::string bad_redis = Refusal({kPostgres, "--redis_url=http://u:hunter2@cache"});
  EXPECT_THAT(bad_redis, HasSubstr("--redis_url: "));
  EXPECT_THAT(bad_redis, Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace tally::policy
