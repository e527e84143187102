#include "tools/loadgen/grpc_counters.h"

#include <civetweb.h>

#include <cmath>
#include <mutex>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/util/host_port.h"

namespace tally::loadgen {
namespace {

constexpr absl::string_view kHandled = "grpc_server_handled_total";

// A metrics endpoint's address: host and a real port.
std::optional<HostPort> EndpointAddress(absl::string_view address) {
  std::optional<HostPort> split = SplitHostPort(address);
  if (!split.has_value() || split->port == 0) return std::nullopt;
  return split;
}

}  // namespace

absl::StatusOr<HandledCalls> ParseHandledCalls(absl::string_view metrics_text) {
  HandledCalls calls;
  for (absl::string_view line : absl::StrSplit(metrics_text, '\n')) {
    if (!absl::ConsumePrefix(&line, kHandled)) continue;
    // "grpc_server_handled_total{grpc_code="OK",grpc_method="/pkg.Svc/M"} 12": the name alone,
    // not a longer metric that starts with it.
    if (line.empty() || (line[0] != '{' && line[0] != ' ')) continue;
    const size_t value_at = line.rfind(' ');
    if (value_at == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("no value in a ", kHandled, " line"));
    }
    // The label set, up to its closing brace; prometheus-cpp writes no timestamp after the
    // value, and method names hold no quotes or braces.
    const size_t close = line.find('}');
    if (close == absl::string_view::npos || close > value_at) {
      return absl::InvalidArgumentError(absl::StrCat("no label set in a ", kHandled, " line"));
    }
    const absl::string_view labels = line.substr(0, close);
    absl::string_view method;
    bool found = false;
    for (absl::string_view label : absl::StrSplit(labels.substr(1), ',')) {
      if (absl::ConsumePrefix(&label, "grpc_method=\"") && absl::ConsumeSuffix(&label, "\"")) {
        method = label;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("no grpc_method in a ", kHandled, " line"));
    }
    if (absl::StartsWith(method, "/grpc.")) continue;
    double value = 0;
    if (!absl::SimpleAtod(line.substr(value_at + 1), &value) || !std::isfinite(value) ||
        value < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad value in a ", kHandled, " line"));
    }
    calls[std::string(method)] += static_cast<int64_t>(std::llround(value));
  }
  return calls;
}

void AddCalls(const HandledCalls& add, HandledCalls& into) {
  for (const auto& [method, calls] : add) into[method] += calls;
}

absl::StatusOr<HandledCalls> ScrapeHandledCalls(const std::string& address) {
  const std::optional<HostPort> endpoint = EndpointAddress(address);
  if (!endpoint.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("bad metrics address: ", address));
  }
  // CivetWeb's client wants the library set up once per process (counted, so the gateway
  // endpoint's own set-up does not clash).
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
  char error[256] = {0};
  mg_connection* conn =
      mg_download(endpoint->host.c_str(), endpoint->port, 0, error, sizeof(error),
                  "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", address.c_str());
  if (conn == nullptr) {
    return absl::UnavailableError(absl::StrCat("metrics at ", address, ": ", error));
  }
  const mg_response_info* info = mg_get_response_info(conn);
  const int status = info != nullptr ? info->status_code : 0;
  std::string body;
  char buffer[16384];
  for (int n; (n = mg_read(conn, buffer, sizeof(buffer))) > 0;) body.append(buffer, n);
  mg_close_connection(conn);
  if (status != 200) {
    return absl::UnavailableError(absl::StrCat("metrics at ", address, " answered ", status));
  }
  return ParseHandledCalls(body);
}

absl::StatusOr<std::vector<std::string>> ParseMetricsAddresses(absl::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    if (!EndpointAddress(part).has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics addresses are host:port,...; got \"", part, "\""));
    }
    out.emplace_back(part);
  }
  return out;
}

}  // namespace tally::loadgen
