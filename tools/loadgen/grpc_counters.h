#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::loadgen {

// gRPC calls completed, by method ("/tally.credential.v1.CredentialService/FindUser").
using HandledCalls = std::map<std::string, int64_t>;

// The gRPC calls a Tally server has completed, from its Prometheus endpoint
// (`grpc_server_handled_total`, common/server/metrics.cc), without gRPC's own services
// (health checks, reflection): the hops a login makes, counted where they are served.
absl::StatusOr<HandledCalls> ParseHandledCalls(absl::string_view metrics_text);

// GET http://<host:port>/metrics and ParseHandledCalls. UNAVAILABLE when the endpoint does not
// answer 200.
absl::StatusOr<HandledCalls> ScrapeHandledCalls(const std::string& address);

// The calls of every method in `add` added to `into`.
void AddCalls(const HandledCalls& add, HandledCalls& into);

// "host:port,host:port"; INVALID_ARGUMENT on anything else. Empty → empty list.
absl::StatusOr<std::vector<std::string>> ParseMetricsAddresses(absl::string_view text);

}  // namespace tally::loadgen
