#include <string>

#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/floors/floors.h"

namespace tally::floors {
namespace {

FloorOptions Tiny() {
  FloorOptions options;
  options.argon2_memory_kib = 256;
  options.argon2_iterations = 1;
  options.threads = 1;
  options.duration = absl::Milliseconds(20);
  options.warmup_calls = 20;
  options.min_samples = 200;
  return options;
}

TEST(FloorsRedisTest, MeasuresThePingRoundTrip) {
  FloorOptions options = Tiny();
  options.redis_url = testing::RequiredEnv("TALLY_TEST_REDIS_URL");
  ASSERT_FALSE(options.redis_url.empty());
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  ASSERT_TRUE(floors.ok()) << floors.status();
  EXPECT_TRUE(floors->redis_measured);
  EXPECT_GE(floors->redis_samples, 200);
  EXPECT_GT(floors->redis_rtt_p50_us, 0);
  EXPECT_GE(floors->redis_rtt_p99_us, floors->redis_rtt_p50_us);
  // Both ends' CPU: at least something per PING, and not more than the time each took.
  EXPECT_GT(floors->redis_cpu_us_per_round_trip, 0);
  EXPECT_LT(floors->redis_cpu_us_per_round_trip, 10 * floors->redis_rtt_p99_us);
  const nlohmann::json json = *floors;
  EXPECT_EQ(json["redis_measured"], true);
  EXPECT_EQ(json["redis_samples"], floors->redis_samples);
}

TEST(FloorsRedisTest, UnreachableRedisIsUnavailable) {
  FloorOptions options = Tiny();
  options.redis_url = "redis://127.0.0.1:" + std::to_string(testing::FreePort());
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  EXPECT_EQ(floors.status().code(), absl::StatusCode::kUnavailable) << floors.status();
  EXPECT_THAT(floors.status().message(), ::testing::HasSubstr("Redis"));
}

}  // namespace
}  // namespace tally::floors
