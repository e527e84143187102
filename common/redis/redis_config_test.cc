#include "common/redis/redis_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RedisSettings Url(std::string url) {
  RedisSettings settings;
  settings.url = std::move(url);
  return settings;
}

RedisSettings Cluster(std::string nodes) {
  RedisSettings settings;
  settings.cluster_nodes = std::move(nodes);
  return settings;
}

TEST(ServiceRedisOptionsTest, NamesTheClientAndTakesThePoolSize) {
  absl::StatusOr<RedisOptions> options =
      ServiceRedisOptions(Url("redis://:pw@db.internal:6380/2"), "tally-otp", 16);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "db.internal");
  EXPECT_EQ(options->port, 6380);
  EXPECT_EQ(options->db, 2);
  EXPECT_EQ(options->client_name, "tally-otp");
  EXPECT_EQ(options->pool_size, 16);
  EXPECT_TRUE(options->cluster_nodes.empty());
  EXPECT_EQ(options->min_replica_acks, 0) << "one Redis: no replica to wait for by default";
}

TEST(ServiceRedisOptionsTest, WithoutAPoolSizeKeepsTheDefault) {
  absl::StatusOr<RedisOptions> options =
      ServiceRedisOptions(Url("redis://127.0.0.1"), "tally-passkey");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->pool_size, RedisOptions().pool_size);
}

TEST(ServiceRedisOptionsTest, RefusesBadValuesNamingTheFlag) {
  EXPECT_EQ(ServiceRedisOptions(Url(""), "x").status().message(),
            "--redis_url (or --redis_cluster_nodes) is required");
  EXPECT_EQ(ServiceRedisOptions(Url("redis://127.0.0.1"), "x", 0).status().message(),
            "--redis_pool_size must be >= 1");
  absl::Status bad = ServiceRedisOptions(Url("http://user:hunter2@host"), "x").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("--redis_url: "));
  EXPECT_THAT(bad.message(), Not(HasSubstr("hunter2")));
}

TEST(ServiceRedisOptionsTest, ClusterSeedsPasswordAndReplicaAcks) {
  RedisSettings settings = Cluster("redis-0.redis:6379, redis-1.redis:6379");
  settings.password = "s3cret";
  settings.user = "tally";
  settings.retry_timeout = absl::Seconds(5);
  absl::StatusOr<RedisOptions> options = ServiceRedisOptions(settings, "tally-orchestrator", 16);
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->cluster_nodes.size(), 2u);
  EXPECT_EQ(options->cluster_nodes[1].address(), "redis-1.redis:6379");
  EXPECT_EQ(options->password, "s3cret");
  EXPECT_EQ(options->user, "tally");
  EXPECT_EQ(options->min_replica_acks, 1) << "a cluster: one replica confirms by default";
  EXPECT_EQ(options->retry_timeout, absl::Seconds(5));
  EXPECT_EQ(options->pool_size, 16);

  settings.min_replica_acks = 2;
  EXPECT_EQ(ServiceRedisOptions(settings, "x")->min_replica_acks, 2);
  settings.min_replica_acks = 0;
  EXPECT_EQ(ServiceRedisOptions(settings, "x")->min_replica_acks, 0);
  // The password without the URL for one Redis too.
  RedisSettings single = Url("redis://cache:6379");
  single.password = "s3cret";
  EXPECT_EQ(ServiceRedisOptions(single, "x")->password, "s3cret");
}

TEST(ServiceRedisOptionsTest, RefusesAmbiguousOrBadClusterSettings) {
  RedisSettings both = Url("redis://cache");
  both.cluster_nodes = "cache:7000";
  EXPECT_THAT(ServiceRedisOptions(both, "x").status().message(), HasSubstr("exclude each other"));
  EXPECT_THAT(ServiceRedisOptions(Cluster("cache"), "x").status().message(),
              HasSubstr("--redis_cluster_nodes: "));
  RedisSettings twice = Url("redis://:hunter2@cache");
  twice.password = "hunter3";
  absl::Status refused = ServiceRedisOptions(twice, "x").status();
  EXPECT_THAT(refused.message(), HasSubstr("give it once"));
  EXPECT_THAT(refused.message(), Not(HasSubstr("hunter")));
  RedisSettings user_only = Cluster("cache:7000");
  user_only.user = "tally";
  EXPECT_THAT(ServiceRedisOptions(user_only, "x").status().message(),
              HasSubstr("TALLY_REDIS_PASSWORD"));
  RedisSettings acks = Cluster("cache:7000");
  acks.min_replica_acks = -2;
  EXPECT_THAT(ServiceRedisOptions(acks, "x").status().message(),
              HasSubstr("--redis_min_replica_acks"));
  RedisSettings retry = Cluster("cache:7000");
  retry.retry_timeout = absl::ZeroDuration();
  EXPECT_THAT(ServiceRedisOptions(retry, "x").status().message(),
              HasSubstr("--redis_retry_timeout"));
}

}  // namespace
}  // namespace tally
