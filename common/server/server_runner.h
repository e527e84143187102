#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/health_monitor.h"
#include "common/server/metrics.h"
#include "common/server/tls.h"
#include "spdlog/logger.h"

namespace tally {

struct ServerOptions {
  std::string listen;          // host:port of the gRPC server
  std::string metrics_listen;  // host:port of /metrics; empty: no metrics endpoint
  int max_message_bytes = 4 * 1024 * 1024;
  // On SIGTERM: NOT_SERVING but still serving for drain_grace, then drain_timeout for the
  // calls in flight.
  absl::Duration drain_grace = absl::Seconds(1);
  absl::Duration drain_timeout = absl::Seconds(20);
  absl::Duration health_interval = absl::Seconds(2);
  // Clients are asked to reconnect (GOAWAY; calls in flight get drain_timeout, at least 30 s)
  // after this long, so they resolve their target again and spread over replicas added since;
  // zero: never.
  absl::Duration max_connection_age = absl::Minutes(10);
  TlsFiles tls;  // mutual TLS when set, plaintext otherwise
};

// Options from the shared flags --listen, --metrics_listen, --max_message_bytes, --drain_grace,
// --drain_timeout, --health_check_interval, --max_connection_age and the TLS flags of tls.h (TALLY_* in the
// environment). Empty --listen means 0.0.0.0:<default_port>; empty --metrics_listen means the
// listen host and port + 1000.
absl::StatusOr<ServerOptions> ServerOptionsFromFlags(int default_port);

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later, so that
// RunUntilSignal() receives them. Call first thing in main().
void BlockTerminationSignals();

// Turns off Abseil's mutex deadlock-cycle detection in a server process. Debian builds libabsl
// without NDEBUG, so every absl::Mutex (gRPC takes several per call) maintains a lock graph:
// 354 ns against 91 ns per nested lock pair here, ~3-4 % of a busy service's CPU. Release
// builds of Abseil have it off; unit tests keep it on, and the TSan build checks lock order.
void DisableMutexDeadlockDetection();

// Ignores SIGPIPE in a server process, as most servers do: a write to a connection the peer
// reset then fails with EPIPE instead of killing the process. Call before building the Redis
// client, which then skips its per-command signal masking (three system calls a round trip).
void IgnoreSigpipe();

// grpc.health.v1 service names. "" (what Kubernetes' gRPC probe asks by default) is readiness:
// SERVING while every store probe passes. "liveness" stays SERVING until shutdown, so a store
// outage takes pods out of rotation without restarting them.
inline constexpr char kReadinessService[] = "";
inline constexpr char kLivenessService[] = "liveness";

// The part of every Tally server that is not its API: gRPC health (grpc.health.v1, driven by
// store probes), reflection, message size limits, per-RPC metrics on /metrics, and a graceful
// drain on SIGTERM/SIGINT.
class ServerRunner {
 public:
  ServerRunner(ServerOptions options, std::shared_ptr<spdlog::logger> logger);
  ~ServerRunner();

  // Before Start(): the services to serve (not owned) and the stores to probe for health.
  void AddService(grpc::Service* service);
  void AddHealthCheck(std::string store, HealthMonitor::Check check);

  ServerMetrics& metrics() { return metrics_; }

  // Binds the gRPC and metrics ports and starts serving.
  absl::Status Start();
  int port() const { return port_; }
  const std::string& metrics_address() const { return metrics_address_; }

  // Waits for SIGTERM or SIGINT (see BlockTerminationSignals), then drains.
  void RunUntilSignal();
  // Health NOT_SERVING while calls are still served for drain_grace; then no new calls, and
  // in-flight calls get until drain_timeout before they are cancelled.
  void Shutdown();

 private:
  ServerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  ServerMetrics metrics_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string metrics_address_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace tally
