#include "services/passkey/policy_level_source.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/grpc_status.h"

namespace tally::passkey {

PolicyLevelSource::PolicyLevelSource(
    std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> stub,
    absl::Duration timeout)
    : stub_(std::move(stub)), timeout_(timeout) {}

absl::StatusOr<int> PolicyLevelSource::RequiredLevel(absl::string_view directory_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  ::tally::policy::v1::GetAuthSettingsRequest request;
  request.set_directory_id(std::string(directory_id));
  ::tally::policy::v1::GetAuthSettingsResponse response;
  absl::Status s = FromGrpcStatus(stub_->GetAuthSettings(&context, request, &response));
  if (s.ok()) return response.settings().required_level();
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return absl::NotFoundError("unknown directory");
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::UnavailableError(
          absl::StrCat("policy service unavailable: ", s.message()));
    default:
      // Our call was refused or broke: to our caller the dependency is unavailable.
      return absl::UnavailableError(
          absl::StrCat("policy service answered ", absl::StatusCodeToString(s.code())));
  }
}

}  // namespace tally::passkey
