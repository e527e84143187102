#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tally {

struct HostPort {
  std::string host;
  int port = 0;
};

// Splits "host:port" at its last colon, so "[::1]:8080" keeps its brackets in the host (as gRPC
// and CivetWeb take it). nullopt without a host, or when the port is not a number in 0..65535;
// callers that need a real port also refuse 0.
std::optional<HostPort> SplitHostPort(absl::string_view address);

}  // namespace tally
