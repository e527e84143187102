#include "common/redis/redis_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ServiceRedisOptionsTest, NamesTheClientAndTakesThePoolSize) {
  absl::StatusOr<RedisOptions> options =
      ServiceRedisOptions("redis://:pw@db.internal:6380/2", "tally-otp", 16);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "db.internal");
  EXPECT_EQ(options->port, 6380);
  EXPECT_EQ(options->db, 2);
  EXPECT_EQ(options->client_name, "tally-otp");
  EXPECT_EQ(options->pool_size, 16);
}

TEST(ServiceRedisOptionsTest, WithoutAPoolSizeKeepsTheDefault) {
  absl::StatusOr<RedisOptions> options = ServiceRedisOptions("redis://127.0.0.1", "tally-passkey");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->pool_size, RedisOptions().pool_size);
}

TEST(ServiceRedisOptionsTest, RefusesBadValuesNamingTheFlag) {
  EXPECT_EQ(ServiceRedisOptions("", "x").status().message(), "--redis_url is required");
  EXPECT_EQ(ServiceRedisOptions("redis://127.0.0.1", "x", 0).status().message(),
            "--redis_pool_size must be >= 1");
  absl::Status bad = ServiceRedisOptions("http://user:hunter2@host", "x").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("--redis_url: "));
  EXPECT_THAT(bad.message(), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace tally
