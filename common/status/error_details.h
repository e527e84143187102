#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/error_reasons.h"
#include "google/rpc/error_details.pb.h"

// gRPC's richer error model (API.md "Errors carry details") on absl::Status. Domain code
// attaches details as payloads keyed by their Any type URL; ToGrpcStatus
// (common/status/grpc_status.h) sends them as a google.rpc.Status in grpc-status-details-bin and
// FromGrpcStatus reads them back, so a peer's refusal keeps its reason through the
// orchestrator. Details are for callers to act on: like the message, they never hold a secret.
namespace tally {

// Type URL prefix of every detail ("type.googleapis.com/google.rpc.ErrorInfo").
inline constexpr absl::string_view kDetailTypeUrlPrefix = "type.googleapis.com/";

// Attach an ErrorInfo (domain "tally", `reason` from common/status/error_reasons.h); replaces
// an earlier one. No-op on an OK status.
absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata = {});

// Attach a RetryInfo: when the caller may try again (negative delays count as 0).
absl::Status WithRetryInfo(absl::Status status, absl::Duration delay);

// Add a BadRequest field violation; `field` is the path in the request, e.g.
// "settings.required_level". Several calls add several violations.
absl::Status WithBadRequest(absl::Status status, absl::string_view field,
                            absl::string_view description);

// Read details back (nullopt / empty when absent or unparsable).
std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const absl::Status& status);
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);
std::vector<google::rpc::BadRequest::FieldViolation> FieldViolationsOf(const absl::Status& status);

// The reason of a Tally refusal (an ErrorInfo of domain "tally"), empty when there is none.
// The grpc::Status overload is for clients: tests, tallyctl, other backends in C++.
std::string ErrorReason(const absl::Status& status);
std::string ErrorReason(const grpc::Status& status);

// The details in one line for people (tallyctl's error line), e.g. "reason
// SETTINGS_UNSATISFIABLE, field settings.required_level, retry after 42s"; empty when none.
std::string DetailsText(const absl::Status& status);

}  // namespace tally
