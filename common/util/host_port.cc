#include "common/util/host_port.h"

#include "absl/strings/numbers.h"

namespace tally {

std::optional<HostPort> SplitHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return std::nullopt;
  const absl::string_view port_text = address.substr(colon + 1);
  HostPort split;
  // SimpleAtoi takes a sign and surrounding spaces; a port is digits only.
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port_text, &split.port) || split.port > 65535) {
    return std::nullopt;
  }
  split.host = std::string(address.substr(0, colon));
  return split;
}

}  // namespace tally
