#include "common/status/error_details.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/grpc_status.h"
#include "common/util/proto_time.h"

namespace tally {
namespace {

template <typename Detail>
std::string TypeUrl() {
  return absl::StrCat(kDetailTypeUrlPrefix, Detail::descriptor()->full_name());
}

template <typename Detail>
std::optional<Detail> DetailOf(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrl<Detail>());  // absl::optional in Debian's Abseil
  if (!payload.has_value()) return std::nullopt;
  Detail detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

template <typename Detail>
absl::Status WithDetail(absl::Status status, const Detail& detail) {
  status.SetPayload(TypeUrl<Detail>(), absl::Cord(detail.SerializeAsString()));
  return status;
}

}  // namespace

absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(reasons::kErrorDomain));
  info.mutable_metadata()->insert(metadata.begin(), metadata.end());
  return WithDetail(std::move(status), info);
}

absl::Status WithRetryInfo(absl::Status status, absl::Duration delay) {
  google::rpc::RetryInfo retry;
  *retry.mutable_retry_delay() = ToProtoDuration(std::max(delay, absl::ZeroDuration()));
  return WithDetail(std::move(status), retry);
}

absl::Status WithBadRequest(absl::Status status, absl::string_view field,
                            absl::string_view description) {
  google::rpc::BadRequest request = DetailOf<google::rpc::BadRequest>(status).value_or(
      google::rpc::BadRequest());
  google::rpc::BadRequest::FieldViolation* violation = request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(description));
  return WithDetail(std::move(status), request);
}

std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const absl::Status& status) {
  return DetailOf<google::rpc::ErrorInfo>(status);
}

std::optional<absl::Duration> RetryDelayOf(const absl::Status& status) {
  std::optional<google::rpc::RetryInfo> retry = DetailOf<google::rpc::RetryInfo>(status);
  if (!retry.has_value() || !retry->has_retry_delay()) return std::nullopt;
  return absl::Seconds(retry->retry_delay().seconds()) +
         absl::Nanoseconds(retry->retry_delay().nanos());
}

std::vector<google::rpc::BadRequest::FieldViolation> FieldViolationsOf(
    const absl::Status& status) {
  std::optional<google::rpc::BadRequest> request = DetailOf<google::rpc::BadRequest>(status);
  if (!request.has_value()) return {};
  return {request->field_violations().begin(), request->field_violations().end()};
}

std::string ErrorReason(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status);
  // A reason of another domain (a proxy's, a library's) is not one of ours.
  if (!info.has_value() || info->domain() != reasons::kErrorDomain) return "";
  return info->reason();
}

std::string ErrorReason(const grpc::Status& status) { return ErrorReason(FromGrpcStatus(status)); }

std::string DetailsText(const absl::Status& status) {
  std::vector<std::string> parts;
  if (std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status); info.has_value()) {
    parts.push_back(absl::StrCat("reason ", info->reason()));
  }
  for (const google::rpc::BadRequest::FieldViolation& violation : FieldViolationsOf(status)) {
    parts.push_back(absl::StrCat("field ", violation.field()));
  }
  if (std::optional<absl::Duration> delay = RetryDelayOf(status); delay.has_value()) {
    parts.push_back(absl::StrCat("retry after ", absl::FormatDuration(*delay)));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace tally
