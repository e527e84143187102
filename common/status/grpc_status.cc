#include "common/status/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "common/status/error_details.h"
#include "google/rpc/status.pb.h"

namespace tally {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  // Details (common/status/error_details.h) travel as a google.rpc.Status in
  // grpc-status-details-bin; a status without any keeps the plain wire form.
  google::rpc::Status details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    if (!absl::StartsWith(type_url, kDetailTypeUrlPrefix)) return;
    google::protobuf::Any* any = details.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  if (details.details().empty()) return grpc::Status(code, message);
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  return grpc::Status(code, message, details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // gRPC codes are 0..16; anything else is not a status we understand.
  if (code < 0 || code > 16) return absl::UnknownError(status.error_message());
  absl::Status result(static_cast<absl::StatusCode>(code), status.error_message());
  google::rpc::Status details;
  // The details belong to this status only when they say the same code (gRPC's rule).
  if (!status.error_details().empty() && details.ParseFromString(status.error_details()) &&
      details.code() == code) {
    for (const google::protobuf::Any& any : details.details()) {
      result.SetPayload(any.type_url(), absl::Cord(any.value()));
    }
  }
  return result;
}

}  // namespace tally
