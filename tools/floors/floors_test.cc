#include "tools/floors/floors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::floors {
namespace {

using ::testing::HasSubstr;

// Tiny runs: a cheap Argon2id and short measurements, so the test checks shape, not speed.
FloorOptions Tiny() {
  FloorOptions options;
  options.argon2_memory_kib = 256;
  options.argon2_iterations = 1;
  options.argon2_parallelism = 1;
  options.threads = 2;
  options.duration = absl::Milliseconds(20);
  options.warmup_calls = 20;
  options.min_samples = 200;
  return options;
}

constexpr const char* kKeys[] = {
    "argon2_memory_kib", "argon2_iterations", "argon2_parallelism", "argon2_verify_ms_1t",
    "argon2_verifies_per_s_1t", "argon2_verifies_per_s_nt", "argon2_verify_ms_nt", "threads",
    "grpc_echo_p50_us_sync", "grpc_echo_p99_us_sync", "grpc_echo_calls_sync",
    "grpc_echo_capacity_per_s", "grpc_echo_cpu_us_per_call", "grpc_echo_capacity_concurrency",
    "grpc_echo_capacity_calls", "redis_measured", "redis_rtt_p50_us", "redis_rtt_p99_us",
    "redis_samples", "redis_cpu_us_per_round_trip", "cpus"};

TEST(FloorsTest, MeasuresArgon2AndTheEcho) {
  absl::StatusOr<Floors> floors = MeasureFloors(Tiny());
  ASSERT_TRUE(floors.ok()) << floors.status();
  const Floors& f = *floors;

  EXPECT_EQ(f.argon2_memory_kib, 256u);
  EXPECT_EQ(f.argon2_iterations, 1u);
  EXPECT_EQ(f.argon2_parallelism, 1u);
  EXPECT_EQ(f.threads, 2);
  EXPECT_GE(f.cpus, 1);
  EXPECT_GT(f.argon2_verify_ms_1t, 0);
  EXPECT_GT(f.argon2_verifies_per_s_1t, 0);
  EXPECT_GT(f.argon2_verifies_per_s_nt, 0);
  EXPECT_GT(f.argon2_verify_ms_nt, 0);
  // Rate and mean time of the single thread describe the same run.
  EXPECT_NEAR(f.argon2_verify_ms_1t * f.argon2_verifies_per_s_1t, 1000.0, 1e-6);

  EXPECT_GT(f.grpc_echo_p50_us_sync, 0);
  EXPECT_GE(f.grpc_echo_p99_us_sync, f.grpc_echo_p50_us_sync);
  EXPECT_GE(f.grpc_echo_calls_sync, 200);
  // The capacity: the calls the callers completed in the measured time, and their CPU.
  EXPECT_EQ(f.grpc_echo_capacity_concurrency, 16);
  EXPECT_GT(f.grpc_echo_capacity_calls, 0);
  EXPECT_GT(f.grpc_echo_capacity_per_s, 0);
  EXPECT_GT(f.grpc_echo_cpu_us_per_call, 0);

  EXPECT_FALSE(f.redis_measured);
  EXPECT_EQ(f.redis_samples, 0);
  EXPECT_EQ(f.redis_rtt_p50_us, 0);

  const nlohmann::json json = f;
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.size(), std::size(kKeys));
  for (const char* key : kKeys) EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_EQ(json["threads"], 2);
  EXPECT_EQ(json["redis_measured"], false);
  EXPECT_DOUBLE_EQ(json["grpc_echo_p50_us_sync"].get<double>(), f.grpc_echo_p50_us_sync);
  // And back: the load generator's result is read the same way.
  EXPECT_DOUBLE_EQ(json.get<Floors>().grpc_echo_cpu_us_per_call, f.grpc_echo_cpu_us_per_call);
}

TEST(FloorsTest, BestOfTakesTheHigherRateAndTheLowerTimeOrCpuFieldByField) {
  Floors before, after;
  before.argon2_verifies_per_s_nt = 75.5;
  after.argon2_verifies_per_s_nt = 97.7;
  before.grpc_echo_capacity_per_s = 13363;
  after.grpc_echo_capacity_per_s = 22997;
  before.grpc_echo_cpu_us_per_call = 139;
  after.grpc_echo_cpu_us_per_call = 77;
  before.redis_cpu_us_per_round_trip = 53;
  after.redis_cpu_us_per_round_trip = 38;
  before.grpc_echo_p50_us_sync = 91;
  after.grpc_echo_p50_us_sync = 0;  // not measured after
  before.threads = after.threads = 2;
  const Floors best = BestOf(before, after);
  EXPECT_DOUBLE_EQ(best.argon2_verifies_per_s_nt, 97.7);
  EXPECT_DOUBLE_EQ(best.grpc_echo_capacity_per_s, 22997);
  EXPECT_DOUBLE_EQ(best.grpc_echo_cpu_us_per_call, 77);
  EXPECT_DOUBLE_EQ(best.redis_cpu_us_per_round_trip, 38);
  // Not measured after: the measurement before stands.
  EXPECT_DOUBLE_EQ(best.grpc_echo_p50_us_sync, 91);
  EXPECT_EQ(best.threads, 2);
}

TEST(EchoPeerTest, AnswersCallsUntilDestroyed) {
  absl::StatusOr<std::unique_ptr<EchoPeer>> peer = EchoPeer::Start();
  ASSERT_TRUE(peer.ok()) << peer.status();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*peer)->Call().ok());
  // A second peer is a server of its own.
  absl::StatusOr<std::unique_ptr<EchoPeer>> other = EchoPeer::Start(0);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE((*other)->Call().ok());
}

TEST(FloorsTest, ZeroThreadsMeansAvailableCpus) {
  FloorOptions options = Tiny();
  options.threads = 0;
  options.min_samples = 10;
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  ASSERT_TRUE(floors.ok()) << floors.status();
  EXPECT_EQ(floors->threads, AvailableCpus());
  EXPECT_EQ(floors->cpus, AvailableCpus());
}

TEST(FloorsTest, RefusesArgon2ParametersTheServiceWouldRefuse) {
  FloorOptions options = Tiny();
  options.argon2_memory_kib = 4;  // below 8 KiB per lane
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  EXPECT_EQ(floors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(floors.status().message(), HasSubstr("argon2id"));
}

TEST(FloorsTest, RefusesBadOptionsBeforeMeasuring) {
  FloorOptions negative_threads = Tiny();
  negative_threads.threads = -1;
  EXPECT_EQ(MeasureFloors(negative_threads).status().code(), absl::StatusCode::kInvalidArgument);

  FloorOptions no_samples = Tiny();
  no_samples.min_samples = 0;
  EXPECT_EQ(MeasureFloors(no_samples).status().code(), absl::StatusCode::kInvalidArgument);

  FloorOptions no_callers = Tiny();
  no_callers.echo_concurrency = 0;
  EXPECT_EQ(MeasureFloors(no_callers).status().code(), absl::StatusCode::kInvalidArgument);

  FloorOptions no_channels = Tiny();
  no_channels.echo_channels = 0;
  EXPECT_EQ(MeasureFloors(no_channels).status().code(), absl::StatusCode::kInvalidArgument);

  FloorOptions bad_url = Tiny();
  bad_url.redis_url = "http://example.com";
  EXPECT_EQ(MeasureFloors(bad_url).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::floors
