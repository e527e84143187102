#pragma once

// Floors: what the machine itself costs, measured in-process, so the bench can set its results
// beside them (issue #8). A login can never be faster than one Argon2id verify, an internal hop
// never cheaper than a bare gRPC round trip on loopback, an OTP verify never cheaper than one
// Redis round trip.
//   - Argon2id verify at the configured parameters with the credential service's own hasher,
//     on 1 thread and on N threads at once (verifies per second).
//   - A bare gRPC echo on 127.0.0.1 (a sync server with the services' threading, a blocking
//     stub), one call at a time: p50/p99. And its capacity: calls per second with
//     `echo_concurrency` blocking callers on `echo_channels` connections, and the CPU both ends
//     spend per call. A cluster that makes N gRPC calls per login cannot serve more than
//     capacity / N logins per second on these cores, whatever its handlers do.
//   - A Redis PING through common/redis RedisClient: p50/p99 and the CPU of both ends (skipped
//     without a URL).
// The callback-API echo, the echo across processes and the relay of the sixth and seventh
// rounds are gone from the code; tools/loadgen/analysis.md keeps what they found.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace tally::floors {

struct FloorOptions {
  // Argon2id parameters, as the credential service's --argon2_* flags.
  uint32_t argon2_memory_kib = 19456;
  uint32_t argon2_iterations = 2;
  uint32_t argon2_parallelism = 1;
  // Threads of the parallel Argon2id measurement; 0: the cores this process may run on.
  int threads = 0;
  // How long each measurement runs (after its warm-up). The latency measurements also make at
  // least `min_samples` calls, so a short duration still gives meaningful percentiles.
  absl::Duration duration = absl::Seconds(3);
  // redis://host:port...; empty: skip the Redis floor.
  std::string redis_url;
  // Bytes of the echo payload (a typical internal request is of this order).
  size_t echo_payload_bytes = 128;
  // The echo capacity measurement: blocking callers at once, over this many connections (the
  // load generator's defaults, so the capacity is measured under the load the scenarios put).
  int echo_concurrency = 16;
  int echo_channels = 4;
  // Calls before each latency measurement (connections, caches, lazy init), not counted.
  int warmup_calls = 500;
  int min_samples = 2000;
};

// The field names are the JSON keys (tools/loadgen/bench_report.py reads them).
struct Floors {
  // Argon2id, echoing the parameters measured.
  uint32_t argon2_memory_kib = 0;
  uint32_t argon2_iterations = 0;
  uint32_t argon2_parallelism = 0;
  double argon2_verify_ms_1t = 0;       // mean time of one verify, alone on the machine
  double argon2_verifies_per_s_1t = 0;  // 1 thread
  double argon2_verifies_per_s_nt = 0;  // `threads` threads at once, all together
  double argon2_verify_ms_nt = 0;       // mean time of one verify while `threads` run at once
  int threads = 0;

  // Bare gRPC echo on loopback, one call at a time, microseconds.
  double grpc_echo_p50_us_sync = 0;
  double grpc_echo_p99_us_sync = 0;
  int64_t grpc_echo_calls_sync = 0;  // samples behind the percentiles

  // Bare gRPC echo at capacity: calls per second and CPU microseconds per call, client and
  // server ends together (both in this process).
  double grpc_echo_capacity_per_s = 0;
  double grpc_echo_cpu_us_per_call = 0;
  int grpc_echo_capacity_concurrency = 0;
  int64_t grpc_echo_capacity_calls = 0;

  // Redis PING round trip, microseconds; all zero when not measured.
  bool redis_measured = false;
  double redis_rtt_p50_us = 0;
  double redis_rtt_p99_us = 0;
  int64_t redis_samples = 0;
  // CPU per PING, this process's and the Redis server's (INFO cpu) together, microseconds. The
  // server's includes what other clients made it do meanwhile: clean on an idle Redis only.
  double redis_cpu_us_per_round_trip = 0;

  // Logical CPUs this process may run on (the default for `threads`).
  int cpus = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    Floors, argon2_memory_kib, argon2_iterations, argon2_parallelism, argon2_verify_ms_1t,
    argon2_verifies_per_s_1t, argon2_verifies_per_s_nt, argon2_verify_ms_nt, threads,
    grpc_echo_p50_us_sync, grpc_echo_p99_us_sync, grpc_echo_calls_sync, grpc_echo_capacity_per_s,
    grpc_echo_cpu_us_per_call, grpc_echo_capacity_concurrency, grpc_echo_capacity_calls,
    redis_measured, redis_rtt_p50_us, redis_rtt_p99_us, redis_samples,
    redis_cpu_us_per_round_trip, cpus)

// Runs every measurement in turn (Argon2id 1 thread, Argon2id N threads, echo, echo capacity,
// Redis). INVALID_ARGUMENT for parameters the credential service would refuse, a bad Redis URL
// or non-positive counts; UNAVAILABLE when the echo server cannot start or Redis does not
// answer; INTERNAL when a call fails during a measurement.
absl::StatusOr<Floors> MeasureFloors(const FloorOptions& options);

// The better of two measurements (before and after the scenarios), field by field: the higher
// rate, the lower time or CPU; a zero (not measured) never wins. On a shared machine a floor
// measured while something else ran is too low, and the ratios against it too kind.
Floors BestOf(const Floors& before, const Floors& after);

// The bare echo of the floors as a peer to call between other calls: a sync server with the
// services' threading in this process, and a stub to it. Measurements that interleave their
// own calls with echo calls see both at the same moment of a drifting machine.
class EchoPeer {
 public:
  // UNAVAILABLE when the server cannot start or be reached.
  static absl::StatusOr<std::unique_ptr<EchoPeer>> Start(size_t payload_bytes = 128);
  ~EchoPeer();
  EchoPeer(const EchoPeer&) = delete;
  EchoPeer& operator=(const EchoPeer&) = delete;

  // One blocking echo; INTERNAL when it fails.
  absl::Status Call();

 private:
  struct Impl;
  explicit EchoPeer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The logical CPUs this process may run on (sched_getaffinity; at least 1).
int AvailableCpus();

}  // namespace tally::floors
