#pragma once

// What one tally-loadgen run measured, typed. `nlohmann::json(result)` is its --output file:
// the JSON keys are the field names, an absent measurement is null. tools/loadgen/
// bench_report.py checks the targets against it and renders BENCHMARKS.md; nothing here judges.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tools/floors/floors.h"
#include "tools/loadgen/stats.h"

namespace nlohmann {
// std::optional as the value or null (nlohmann-json 3.11 has no serializer of its own for it).
template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) {
    if (value.has_value()) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  static void from_json(const json& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.get<T>();
    }
  }
};
}  // namespace nlohmann

namespace tally::loadgen {

// CPU and memory of one watched process between the two snapshots of a run.
struct ServiceUsage {
  double cpu_s = 0;
  double cpu_ms_per_login = 0;
  int64_t rss_kib = 0;
  int64_t peak_rss_kib = 0;  // VmHWM
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServiceUsage, cpu_s, cpu_ms_per_login, rss_kib, peak_rss_kib)

struct RedisUsage {
  double round_trips_per_login = 0;
  std::map<std::string, double> commands_per_login;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RedisUsage, round_trips_per_login, commands_per_login)

// A closed-loop scenario, or the admitted logins of the overload run.
struct RunResult {
  std::string scenario;
  double window_s = 0;
  int64_t logins = 0;  // succeeded
  int64_t failed = 0;
  double logins_per_s = 0;
  LatencySummary latency;                        // whole logins that succeeded
  std::map<std::string, LatencySummary> steps;   // by step, calls that returned OK
  std::map<std::string, int64_t> errors;         // "step: CODE" → logins
  int concurrency = 0;                           // workers (closed loop)
  int64_t users = 0;
  std::map<std::string, ServiceUsage> services;  // by watched process, the load generator too
  double cluster_cpu_ms_per_login = 0;           // every watched process but the load generator
  std::optional<RedisUsage> redis;               // with --redis_url
  std::optional<double> grpc_calls_per_login;    // with --metrics_addrs: calls served
  std::map<std::string, double> grpc_calls_per_login_by_method;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunResult, scenario, window_s, logins, failed, logins_per_s,
                                   latency, steps, errors, concurrency, users, services,
                                   cluster_cpu_ms_per_login, redis, grpc_calls_per_login,
                                   grpc_calls_per_login_by_method)

struct MemoryDuring {
  int64_t rss_before_kib = 0;
  int64_t rss_after_kib = 0;  // a second after the run
  int64_t rss_max_during_kib = 0;
  int64_t peak_rss_kib = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MemoryDuring, rss_before_kib, rss_after_kib,
                                   rss_max_during_kib, peak_rss_kib)

// The open-loop run: logins offered at a fixed rate whatever the cluster does.
struct OverloadResult {
  RunResult run;  // the admitted logins, latency from the scheduled start
  double offered_rate = 0;
  int64_t offered = 0;
  int64_t generator_saturated = 0;  // not started: every worker was busy
  int64_t no_free_user = 0;
  int max_in_flight = 0;
  int64_t resource_exhausted = 0;
  LatencySummary refused_latency;  // until the RESOURCE_EXHAUSTED answer
  std::map<std::string, MemoryDuring> memory;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OverloadResult, run, offered_rate, offered,
                                   generator_saturated, no_free_user, max_in_flight,
                                   resource_exhausted, refused_latency, memory)

// Redis round trips and commands (those scripts issue included) of one call or step.
struct RedisCost {
  int64_t redis_round_trips = 0;
  std::map<std::string, int64_t> redis_commands;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RedisCost, redis_round_trips, redis_commands)

// One RPC called on its own, again and again, on the idle cluster.
struct HopProbe {
  std::string rpc;
  bool postgres = false;  // the call reads PostgreSQL: no hop target
  double p50_us = 0;
  double p99_us = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  std::string last_error;
  // A bare echo and a Redis PING interleaved with the probe's calls: their p50s from the same
  // seconds.
  std::optional<double> echo_p50_us;
  std::optional<double> redis_p50_us;
  std::optional<RedisCost> redis;  // of one call, the fewest over a few (with --redis_url)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HopProbe, rpc, postgres, p50_us, p99_us, calls, errors,
                                   last_error, echo_p50_us, redis_p50_us, redis)

struct OtpVerifyCost {
  RedisCost cost;
  int samples = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OtpVerifyCost, cost, samples)

struct Probes {
  std::vector<HopProbe> hops;
  // scenario → step → its Redis cost, one login at a time.
  std::map<std::string, std::map<std::string, RedisCost>> redis_round_trips_per_step;
  // OtpService.VerifyCode with the right code, called directly.
  std::optional<OtpVerifyCost> otp_verify;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Probes, hops, redis_round_trips_per_step, otp_verify)

// The stand-in SMS/e-mail gateway's counts (common/testing/fake_gateway.h).
struct GatewayCounts {
  int64_t requests = 0;
  int64_t rejected = 0;
  int64_t codes_delivered = 0;
  int64_t unexpected = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GatewayCounts, requests, rejected, codes_delivered, unexpected)

struct Argon2Parameters {
  uint32_t memory_kib = 0;
  uint32_t iterations = 0;
  uint32_t parallelism = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Argon2Parameters, memory_kib, iterations, parallelism)

struct Parameters {
  int concurrency = 0;
  int password_concurrency = 0;
  double duration_s = 0;
  int64_t count = 0;
  double warmup_s = 0;
  int users_per_pool = 0;
  int orchestrator_connections = 0;
  Argon2Parameters argon2;
  std::vector<std::string> scenarios;
  std::string overload_scenario;  // empty: no overload run
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Parameters, concurrency, password_concurrency, duration_s,
                                   count, warmup_s, users_per_pool, orchestrator_connections,
                                   argon2, scenarios, overload_scenario)

struct LoadgenResult {
  Parameters parameters;
  double setup_s = 0;
  Probes probes;
  // Measured before and after the scenarios; `floors` is floors::BestOf the two.
  std::optional<floors::Floors> floors_before;
  std::optional<floors::Floors> floors_after;
  std::optional<floors::Floors> floors;
  std::vector<RunResult> scenarios;
  std::optional<OverloadResult> overload;
  std::optional<GatewayCounts> otp_endpoint;  // when a scenario sends codes
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LoadgenResult, parameters, setup_s, probes, floors_before,
                                   floors_after, floors, scenarios, overload, otp_endpoint)

}  // namespace tally::loadgen
