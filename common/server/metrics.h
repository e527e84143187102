#pragma once

#include <memory>
#include <string>

#include <grpcpp/support/server_interceptor.h>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace tally {

// The metrics of one process: a registry that components add their families to, and the
// per-RPC families every server exports.
class ServerMetrics {
 public:
  ServerMetrics();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  // Called once per finished RPC by the interceptor.
  void RecordRpc(const std::string& method, grpc::StatusCode code, double seconds);
  // 1 while the named store answers its health check, 0 while it does not.
  void SetStoreUp(const std::string& store, bool up);

  // Interceptors that feed RecordRpc; owned by the server builder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& store_up_;
};

// Serves `registry` as Prometheus text on http://<address>/metrics. Fails when the port is taken.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> ServeMetrics(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry);

// "DEADLINE_EXCEEDED" for grpc::StatusCode::DEADLINE_EXCEEDED.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace tally
