#include "tools/loadgen/loadgen_config.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/redis/cluster_topology.h"
#include "tools/loadgen/grpc_counters.h"
#include "tools/loadgen/proc_stats.h"

ABSL_FLAG(std::string, orchestrator_addr, "127.0.0.1:50050", "Orchestrator host:port.");
ABSL_FLAG(std::string, policy_addr, "127.0.0.1:50051", "Policy service host:port (set-up).");
ABSL_FLAG(std::string, credential_addr, "127.0.0.1:50052", "Credential service host:port (set-up).");
ABSL_FLAG(std::string, passkey_addr, "127.0.0.1:50054", "Passkey service host:port (set-up).");
ABSL_FLAG(std::string, otp_addr, "127.0.0.1:50053",
          "OTP api host:port, for the single-RPC probes only; empty: skip those.");
ABSL_FLAG(std::string, platform_key, "", "Platform key for set-up (TALLY_PLATFORM_KEY).");
ABSL_FLAG(std::string, scenarios, "all",
          "Comma-separated: password, password+sms, password+email, passkey, mixed; or all.");
ABSL_FLAG(int, concurrency, 16, "Logins in flight at once (closed loop).");
ABSL_FLAG(int, password_concurrency, 0,
          "Logins in flight for the password scenarios (bound by the hash); 0: --concurrency.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time per scenario.");
ABSL_FLAG(int64_t, count, 0, "> 0: measure this many logins per scenario instead of --duration.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Unmeasured time before each scenario.");
ABSL_FLAG(int, users, 64, "Users created per scenario's directory before the run.");
ABSL_FLAG(int, setup_parallelism, 4, "Users created at once during set-up.");
ABSL_FLAG(std::string, password, "loadgen correct horse battery staple", "The users' password.");
ABSL_FLAG(std::string, origin, "http://localhost:8080",
          "WebAuthn origin (one of the passkey service's --rp_origins).");
ABSL_FLAG(int, connections, 4, "HTTP/2 connections to the orchestrator.");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(10), "Deadline of each RPC.");
ABSL_FLAG(absl::Duration, code_timeout, absl::Seconds(10), "Longest wait for an OTP code.");
ABSL_FLAG(std::string, otp_listen, "127.0.0.1:0",
          "Where the SMS/e-mail gateway endpoint listens (the senders' --sms_http_url points "
          "here); port 0 picks one.");
ABSL_FLAG(std::string, otp_token, "",
          "Bearer token the senders send (their --sms_http_token); empty accepts any.");
ABSL_FLAG(std::string, service_pids, "",
          "name:pid,... of the services to watch (CPU per login, RSS); name:pid+ also counts "
          "the process's children (PostgreSQL's backends).");
ABSL_FLAG(std::string, metrics_addrs, "",
          "host:port,... of every service's metrics endpoint: gRPC calls served per login.");
ABSL_FLAG(std::string, redis_url, "",
          "Redis the cluster uses: Redis round trips per login and step, and the Redis floor.");
ABSL_FLAG(std::string, redis_cluster_nodes, "",
          "Or host:port,... of the Redis Cluster the cluster uses: Redis round trips per login "
          "and step, summed over its primaries.");
ABSL_FLAG(bool, floors, true, "Measure the floors (Argon2id, gRPC echo, Redis) in the run.");
ABSL_FLAG(absl::Duration, floors_duration, absl::Seconds(3), "Duration of each floor measurement.");
ABSL_FLAG(int, floor_threads, 0, "Threads of the parallel Argon2id floor; 0: every core.");
ABSL_FLAG(uint32_t, argon2_memory_kib, 19456, "Argon2id m of the floors (match the cluster).");
ABSL_FLAG(uint32_t, argon2_iterations, 2, "Argon2id t of the floors.");
ABSL_FLAG(uint32_t, argon2_parallelism, 1, "Argon2id p of the floors.");
ABSL_FLAG(int, probes, 200, "Sequential calls per single-RPC probe; 0 skips the probes.");
ABSL_FLAG(bool, overload, false, "Also run the open-loop overload test.");
ABSL_FLAG(std::string, overload_scenario, "password", "Scenario of the overload run.");
ABSL_FLAG(double, overload_rate, 0,
          "Offered logins/s of the overload run; 0: twice the scenario's measured rate.");
ABSL_FLAG(absl::Duration, overload_duration, absl::Seconds(10), "Measured time of the overload run.");
ABSL_FLAG(int, max_in_flight, 512, "Most logins in flight in the overload run.");
ABSL_FLAG(std::string, output, "",
          "Write the result (JSON) to this file instead of the standard output.");

namespace tally::loadgen {

absl::StatusOr<LoadgenConfig> LoadgenConfigFromFlags() {
  LoadgenConfig config;
  Options& o = config.run;
  o.driver.endpoints.orchestrator = absl::GetFlag(FLAGS_orchestrator_addr);
  o.driver.endpoints.policy = absl::GetFlag(FLAGS_policy_addr);
  o.driver.endpoints.credential = absl::GetFlag(FLAGS_credential_addr);
  o.driver.endpoints.passkey = absl::GetFlag(FLAGS_passkey_addr);
  o.driver.endpoints.otp = absl::GetFlag(FLAGS_otp_addr);
  o.driver.platform_key = absl::GetFlag(FLAGS_platform_key);
  o.driver.password = absl::GetFlag(FLAGS_password);
  o.driver.origin = absl::GetFlag(FLAGS_origin);
  o.driver.channels = absl::GetFlag(FLAGS_connections);
  o.driver.rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  o.driver.code_timeout = absl::GetFlag(FLAGS_code_timeout);
  o.scenarios = absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace());
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.password_concurrency = absl::GetFlag(FLAGS_password_concurrency);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.count = absl::GetFlag(FLAGS_count);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.users = absl::GetFlag(FLAGS_users);
  o.setup_parallelism = absl::GetFlag(FLAGS_setup_parallelism);
  o.otp_listen = absl::GetFlag(FLAGS_otp_listen);
  o.otp_token = absl::GetFlag(FLAGS_otp_token);
  o.redis_url = absl::GetFlag(FLAGS_redis_url);
  if (const std::string seeds = absl::GetFlag(FLAGS_redis_cluster_nodes); !seeds.empty()) {
    absl::StatusOr<std::vector<tally::RedisNode>> nodes = ParseRedisNodes(seeds);
    if (!nodes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_cluster_nodes: ", nodes.status().message()));
    }
    o.redis_cluster_nodes = *nodes;
  }
  o.floors = absl::GetFlag(FLAGS_floors);
  o.floors_duration = absl::GetFlag(FLAGS_floors_duration);
  o.floor_threads = absl::GetFlag(FLAGS_floor_threads);
  o.argon2_memory_kib = absl::GetFlag(FLAGS_argon2_memory_kib);
  o.argon2_iterations = absl::GetFlag(FLAGS_argon2_iterations);
  o.argon2_parallelism = absl::GetFlag(FLAGS_argon2_parallelism);
  o.probes = absl::GetFlag(FLAGS_probes);
  o.overload = absl::GetFlag(FLAGS_overload);
  o.overload_scenario = absl::GetFlag(FLAGS_overload_scenario);
  o.overload_rate = absl::GetFlag(FLAGS_overload_rate);
  o.overload_duration = absl::GetFlag(FLAGS_overload_duration);
  o.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);

  absl::StatusOr<std::vector<WatchedService>> services =
      ParseServicePids(absl::GetFlag(FLAGS_service_pids));
  if (!services.ok()) return services.status();
  o.services = *services;
  absl::StatusOr<std::vector<std::string>> metrics =
      ParseMetricsAddresses(absl::GetFlag(FLAGS_metrics_addrs));
  if (!metrics.ok()) return metrics.status();
  o.metrics_addresses = *metrics;
  if (o.driver.platform_key.empty()) {
    return absl::InvalidArgumentError("--platform_key (TALLY_PLATFORM_KEY) is needed for set-up");
  }
  if (o.concurrency < 1 || o.users < 1 || o.max_in_flight < 1 || o.setup_parallelism < 1) {
    return absl::InvalidArgumentError(
        "--concurrency, --users, --setup_parallelism and --max_in_flight must be at least 1");
  }
  config.output = absl::GetFlag(FLAGS_output);
  return config;
}

}  // namespace tally::loadgen
