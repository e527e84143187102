#pragma once

// Floors: what the machine itself costs, measured in-process, so the load generator can print
// its results beside them (issue #8). A login can never be faster than one Argon2id verify, an
// internal hop never cheaper than a bare gRPC round trip on loopback, an OTP verify never
// cheaper than one Redis round trip.
//   - Argon2id verify at the configured parameters with the credential service's own hasher,
//     on 1 thread and on N threads at once (verifies per second).
//   - A bare gRPC echo round trip on 127.0.0.1, sync API (sync server, blocking stub) and
//     callback API (CallbackService, stub->async()), one call at a time: p50/p99.
//   - The bare gRPC echo's capacity: calls per second with `echo_concurrency` blocking callers
//     on `echo_channels` connections, and the CPU both ends spend per call, against a sync
//     server (as the services run) and a callback server. A cluster that makes N gRPC calls
//     per login cannot serve more than capacity / N logins per second on these cores, whatever
//     its handlers do. Optionally also with the server in another process, as between two
//     services.
//   - A relay at capacity: a service in another process that calls a peer echo N times per
//     call, written with the sync API and with the callback API, and its CPU per call.
//   - A Redis PING through common/redis RedisClient: p50/p99 (skipped without a URL).

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
  // A binary whose main calls ServeEchoIfAsked first (tally-floors, tally-loadgen): run as the
  // echo server of the capacity measured across processes. Empty: not measured.
  std::string echo_server_binary;
  // The relay floor (needs echo_server_binary): a service in another process that makes this
  // many calls to a peer per call, written with the sync API and with the callback API.
  // 0: not measured.
  int relay_peer_calls = 2;
  // Calls before each latency measurement (connections, caches, lazy init), not counted.
  int warmup_calls = 500;
  int min_samples = 2000;
};

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
  double grpc_echo_p50_us_callback = 0;
  double grpc_echo_p99_us_callback = 0;
  int64_t grpc_echo_calls_sync = 0;      // samples behind the percentiles
  int64_t grpc_echo_calls_callback = 0;

  // Bare gRPC echo at capacity (sync API, the services' server threading): calls per second
  // and CPU microseconds per call, client and server ends together (both in this process).
  double grpc_echo_capacity_per_s = 0;
  double grpc_echo_cpu_us_per_call = 0;
  // The same callers against a callback-API server.
  double grpc_echo_capacity_per_s_callback = 0;
  double grpc_echo_cpu_us_per_call_callback = 0;
  // The same callers against a sync server in another process (FloorOptions::
  // echo_server_binary), CPU of both processes: what a hop between two services costs.
  bool grpc_echo_cross_process_measured = false;
  double grpc_echo_capacity_per_s_cross_process = 0;
  double grpc_echo_cpu_us_per_call_cross_process = 0;
  // The server process's part of it.
  double grpc_echo_server_cpu_us_per_call_cross_process = 0;
  int grpc_echo_capacity_concurrency = 0;
  int64_t grpc_echo_capacity_calls = 0;

  // The relay at capacity (FloorOptions::relay_peer_calls): the same callers against a service
  // in another process that calls a peer echo `grpc_relay_peer_calls` times per call before it
  // answers, as a Tally handler calls its peers. Calls per second, CPU per relayed call of all
  // three (callers, relay, peer), and the relay's own part, for a relay written with the sync
  // API (blocking stubs, as the services are) and with the callback API (nothing parked): what
  // asynchronous handlers would save a service per peer call.
  bool grpc_relay_measured = false;
  int grpc_relay_peer_calls = 0;
  double grpc_relay_per_s_sync = 0;
  double grpc_relay_cpu_us_per_call_sync = 0;
  double grpc_relay_middle_cpu_us_per_call_sync = 0;
  double grpc_relay_per_s_callback = 0;
  double grpc_relay_cpu_us_per_call_callback = 0;
  double grpc_relay_middle_cpu_us_per_call_callback = 0;

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

// Runs every measurement in turn (Argon2id 1 thread, Argon2id N threads, echo sync, echo
// callback, echo capacity, Redis). INVALID_ARGUMENT for parameters the credential service would
// refuse, a bad Redis URL or non-positive counts; UNAVAILABLE when the echo server cannot start
// or Redis does not answer; INTERNAL when a call fails during a measurement.
absl::StatusOr<Floors> MeasureFloors(const FloorOptions& options);

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

// When this process was started as the echo server of a cross-process floor (by MeasureFloors
// through FloorOptions::echo_server_binary), serves until its stdin closes and exits; returns
// at once otherwise. Call it first thing in main.
void ServeEchoIfAsked();

// One JSON object whose keys are the field names of Floors (stable: the load generator and
// BENCHMARKS.md tooling read them).
nlohmann::json ToJson(const Floors& floors);

// A human-readable table, one line per floor.
std::string FormatTable(const Floors& floors);

// The logical CPUs this process may run on (sched_getaffinity; at least 1).
int AvailableCpus();

}  // namespace tally::floors
