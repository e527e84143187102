#include "tools/floors/floors.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::floors {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
    "grpc_echo_p50_us_sync", "grpc_echo_p99_us_sync", "grpc_echo_p50_us_callback",
    "grpc_echo_p99_us_callback", "grpc_echo_calls_sync", "grpc_echo_calls_callback",
    "grpc_echo_capacity_per_s", "grpc_echo_cpu_us_per_call", "grpc_echo_capacity_per_s_callback",
    "grpc_echo_cpu_us_per_call_callback", "grpc_echo_capacity_concurrency",
    "grpc_echo_capacity_calls", "grpc_echo_cross_process_measured",
    "grpc_echo_capacity_per_s_cross_process", "grpc_echo_cpu_us_per_call_cross_process",
    "grpc_echo_server_cpu_us_per_call_cross_process", "grpc_relay_measured",
    "grpc_relay_peer_calls", "grpc_relay_per_s_sync", "grpc_relay_cpu_us_per_call_sync",
    "grpc_relay_middle_cpu_us_per_call_sync", "grpc_relay_per_s_callback",
    "grpc_relay_cpu_us_per_call_callback", "grpc_relay_middle_cpu_us_per_call_callback",
    "redis_measured", "redis_rtt_p50_us",
    "redis_rtt_p99_us", "redis_samples", "redis_cpu_us_per_round_trip", "cpus"};

TEST(FloorsTest, MeasuresArgon2AndBothEchoApis) {
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
  EXPECT_GT(f.grpc_echo_p50_us_callback, 0);
  EXPECT_GE(f.grpc_echo_p99_us_callback, f.grpc_echo_p50_us_callback);
  EXPECT_GE(f.grpc_echo_calls_sync, 200);
  EXPECT_GE(f.grpc_echo_calls_callback, 200);
  // The capacity: the calls the callers completed in the measured time, and their CPU.
  EXPECT_EQ(f.grpc_echo_capacity_concurrency, 16);
  EXPECT_GT(f.grpc_echo_capacity_calls, 0);
  EXPECT_GT(f.grpc_echo_capacity_per_s, 0);
  EXPECT_GT(f.grpc_echo_cpu_us_per_call, 0);
  EXPECT_GT(f.grpc_echo_capacity_per_s_callback, 0);
  EXPECT_GT(f.grpc_echo_cpu_us_per_call_callback, 0);
  // No echo server binary given: the cross-process capacity is left out.
  EXPECT_FALSE(f.grpc_echo_cross_process_measured);
  EXPECT_EQ(f.grpc_echo_capacity_per_s_cross_process, 0);
  // Nor the relay, which runs in another process too.
  EXPECT_FALSE(f.grpc_relay_measured);
  EXPECT_EQ(f.grpc_relay_per_s_sync, 0);

  EXPECT_FALSE(f.redis_measured);
  EXPECT_EQ(f.redis_samples, 0);
  EXPECT_EQ(f.redis_rtt_p50_us, 0);

  const nlohmann::json json = ToJson(f);
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.size(), std::size(kKeys));
  for (const char* key : kKeys) EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_EQ(json["threads"], 2);
  EXPECT_EQ(json["redis_measured"], false);
  EXPECT_DOUBLE_EQ(json["grpc_echo_p50_us_sync"].get<double>(), f.grpc_echo_p50_us_sync);

  const std::string table = FormatTable(f);
  EXPECT_THAT(table, HasSubstr("m=256 KiB t=1 p=1"));
  EXPECT_THAT(table, HasSubstr("callback API"));
  EXPECT_THAT(table, HasSubstr("gRPC echo capacity, 16 callers, callback server"));
  EXPECT_THAT(table, HasSubstr("not measured"));
}

TEST(FloorsTest, MeasuresTheEchoAcrossProcessesWithTheFloorsBinaryAsServer) {
  FloorOptions options = Tiny();
  options.echo_server_binary = testing::BinDir() + "/tally-floors";
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  ASSERT_TRUE(floors.ok()) << floors.status();
  EXPECT_TRUE(floors->grpc_echo_cross_process_measured);
  EXPECT_GT(floors->grpc_echo_capacity_per_s_cross_process, 0);
  // The server process's CPU is read and counted in the call's cost.
  EXPECT_GT(floors->grpc_echo_server_cpu_us_per_call_cross_process, 0);
  EXPECT_GT(floors->grpc_echo_cpu_us_per_call_cross_process,
            floors->grpc_echo_server_cpu_us_per_call_cross_process);
  EXPECT_THAT(FormatTable(*floors), HasSubstr("server in another process"));
  // The relays ran too (2 peer calls by default), each in a process of its own whose CPU is
  // part of the relayed call's.
  const Floors& f = *floors;
  EXPECT_TRUE(f.grpc_relay_measured);
  EXPECT_EQ(f.grpc_relay_peer_calls, 2);
  EXPECT_GT(f.grpc_relay_per_s_sync, 0);
  EXPECT_GT(f.grpc_relay_middle_cpu_us_per_call_sync, 0);
  EXPECT_GT(f.grpc_relay_cpu_us_per_call_sync, f.grpc_relay_middle_cpu_us_per_call_sync);
  EXPECT_GT(f.grpc_relay_per_s_callback, 0);
  EXPECT_GT(f.grpc_relay_middle_cpu_us_per_call_callback, 0);
  EXPECT_GT(f.grpc_relay_cpu_us_per_call_callback, f.grpc_relay_middle_cpu_us_per_call_callback);
  EXPECT_THAT(FormatTable(f), HasSubstr("gRPC relay (2 peer calls each), callback"));
  // Its servers exited with the measurements: no child is left behind.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(FloorsTest, TheRelayIsSkippedWithoutPeerCalls) {
  FloorOptions options = Tiny();
  options.echo_server_binary = testing::BinDir() + "/tally-floors";
  options.relay_peer_calls = 0;
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  ASSERT_TRUE(floors.ok()) << floors.status();
  EXPECT_TRUE(floors->grpc_echo_cross_process_measured);
  EXPECT_FALSE(floors->grpc_relay_measured);
  EXPECT_EQ(floors->grpc_relay_cpu_us_per_call_sync, 0);
  EXPECT_THAT(FormatTable(*floors), Not(HasSubstr("relay")));
}

TEST(FloorsTest, TheChildsRoleIsTheOneGivenNotAnInheritedOne) {
  // getenv finds the first of two entries: an inherited role must not shadow the one set.
  ASSERT_EQ(setenv("TALLY_FLOORS_ECHO_SERVER", "nope", 1), 0);
  FloorOptions options = Tiny();
  options.echo_server_binary = testing::BinDir() + "/tally-floors";
  options.relay_peer_calls = 0;
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  unsetenv("TALLY_FLOORS_ECHO_SERVER");
  ASSERT_TRUE(floors.ok()) << floors.status();
  EXPECT_TRUE(floors->grpc_echo_cross_process_measured);
}

TEST(FloorsTest, TheFloorsBinaryRefusesAnUnknownServerRole) {
  // A relay without its peer, or a role it does not know, exits without an address.
  for (const char* env : {"TALLY_FLOORS_ECHO_SERVER=relay-sync", "TALLY_FLOORS_ECHO_SERVER=nope"}) {
    const std::string command = absl::StrCat("env -u TALLY_FLOORS_RELAY_PEER ", env, " ",
                                             testing::BinDir(), "/tally-floors </dev/null 2>&1");
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[256];
    while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
    const int status = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << env << ": " << output;
    EXPECT_THAT(output, HasSubstr("echo server:")) << env;
  }
}

TEST(FloorsTest, AnEchoServerBinaryThatDoesNotServeIsUnavailable) {
  FloorOptions options = Tiny();
  options.echo_server_binary = "/bin/true";
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  EXPECT_EQ(floors.status().code(), absl::StatusCode::kUnavailable) << floors.status();
  EXPECT_THAT(floors.status().message(), HasSubstr("another process"));
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(FloorsTest, AnEchoServerThatNeverAnswersNorExitsIsKilled) {
  // Ignores its stdin and never prints an address: the floor gives up on it after its wait for
  // the address, and the child is killed rather than waited for without end.
  testing::TempDir dir;
  const std::string script = dir.path() + "/silent-server";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\nexec sleep 600\n";
  }
  ASSERT_EQ(chmod(script.c_str(), 0700), 0);
  FloorOptions options = Tiny();
  options.echo_server_binary = script;
  absl::StatusOr<Floors> floors = MeasureFloors(options);
  EXPECT_EQ(floors.status().code(), absl::StatusCode::kUnavailable) << floors.status();
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
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

  FloorOptions bad_relay = Tiny();
  bad_relay.relay_peer_calls = -1;
  EXPECT_EQ(MeasureFloors(bad_relay).status().code(), absl::StatusCode::kInvalidArgument);

  FloorOptions bad_url = Tiny();
  bad_url.redis_url = "http://example.com";
  EXPECT_EQ(MeasureFloors(bad_url).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::floors
