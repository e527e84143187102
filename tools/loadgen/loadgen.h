#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis/cluster_topology.h"
#include "tools/loadgen/login_driver.h"
#include "tools/loadgen/proc_stats.h"
#include "tools/loadgen/result.h"

namespace tally::loadgen {

struct Options {
  DriverOptions driver;
  // password, password+sms, password+email, passkey, mixed (in this order when "all").
  std::vector<std::string> scenarios;
  int concurrency = 16;
  // Logins in flight for the password, password+sms and password+email scenarios; 0: as
  // `concurrency`. They are bound by the hash, whose queue turns more in flight into waiting.
  int password_concurrency = 0;
  absl::Duration duration = absl::Seconds(10);
  int64_t count = 0;  // > 0: this many measured logins per scenario instead of `duration`
  absl::Duration warmup = absl::Seconds(2);
  int users = 64;     // per pool
  int setup_parallelism = 4;
  // The SMS/e-mail gateway the senders' http provider posts to (common/testing/fake_gateway.h).
  std::string otp_listen = "127.0.0.1:0";
  std::string otp_token;  // the Bearer token the senders' http provider sends; empty: any
  std::vector<WatchedService> services;
  std::string redis_url;  // INFO counters and the floors' Redis round trip; empty: none
  // Or the seeds of the Redis Cluster the services use: INFO counters summed over its primaries
  // (the floors' Redis round trip needs redis_url).
  std::vector<RedisNode> redis_cluster_nodes;
  // The services' metrics endpoints (host:port): gRPC calls served per login; empty: none.
  std::vector<std::string> metrics_addresses;

  // Floors (tools/floors) measured in the same run.
  bool floors = true;
  uint32_t argon2_memory_kib = 19456;
  uint32_t argon2_iterations = 2;
  uint32_t argon2_parallelism = 1;
  int floor_threads = 0;  // 0: as many as cores
  absl::Duration floors_duration = absl::Seconds(3);

  // Sequential probes of single RPCs (per-hop latency, Redis round trips per OTP verify).
  int probes = 200;

  // Open loop at `overload_rate` logins/s (0: twice the measured closed-loop rate of the
  // overload scenario) for `overload_duration`.
  bool overload = false;
  std::string overload_scenario = "password";
  double overload_rate = 0;
  absl::Duration overload_duration = absl::Seconds(10);
  int max_in_flight = 512;
};

// Sets up the directories and users, runs every scenario (and the probes, floors and overload
// run), and returns everything measured.
absl::StatusOr<LoadgenResult> RunLoadgen(const Options& options);

}  // namespace tally::loadgen
