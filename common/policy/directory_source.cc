#include "common/policy/directory_source.h"

#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/grpc_status.h"

namespace tally {
namespace {

absl::Status PeerError(const grpc::Status& status) {
  absl::Status s = FromGrpcStatus(status);
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return absl::NotFoundError("unknown directory");
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::UnavailableError(absl::StrCat("policy service unavailable: ", s.message()));
    default:
      // Our call was refused or broke: to our caller the dependency is unavailable.
      return absl::UnavailableError(
          absl::StrCat("policy service answered ", absl::StatusCodeToString(s.code())));
  }
}

}  // namespace

PolicyDirectorySource::PolicyDirectorySource(
    std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> policy,
    std::shared_ptr<::tally::policy::v1::DirectoryService::StubInterface> directories,
    absl::Duration timeout)
    : policy_(std::move(policy)), directories_(std::move(directories)), timeout_(timeout) {}

PolicyDirectorySource::PolicyDirectorySource(
    const std::shared_ptr<grpc::ChannelInterface>& policy_channel, absl::Duration timeout)
    : PolicyDirectorySource(::tally::policy::v1::PolicyService::NewStub(policy_channel),
                            ::tally::policy::v1::DirectoryService::NewStub(policy_channel),
                            timeout) {}

absl::StatusOr<int> PolicyDirectorySource::RequiredLevel(absl::string_view directory_id) {
  absl::StatusOr<::tally::policy::v1::AuthSettings> settings = AuthSettings(directory_id);
  if (!settings.ok()) return settings.status();
  return settings->required_level();
}

absl::StatusOr<::tally::policy::v1::AuthSettings> PolicyDirectorySource::AuthSettings(
    absl::string_view directory_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  ::tally::policy::v1::GetAuthSettingsRequest request;
  request.set_directory_id(std::string(directory_id));
  ::tally::policy::v1::GetAuthSettingsResponse response;
  grpc::Status status = policy_->GetAuthSettings(&context, request, &response);
  if (!status.ok()) return PeerError(status);
  return std::move(*response.mutable_settings());
}

absl::StatusOr<std::string> PolicyDirectorySource::DisplayName(absl::string_view directory_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  ::tally::policy::v1::GetDirectoryRequest request;
  request.set_directory_id(std::string(directory_id));
  ::tally::policy::v1::GetDirectoryResponse response;
  grpc::Status status = directories_->GetDirectory(&context, request, &response);
  if (!status.ok()) return PeerError(status);
  return response.directory().display_name();
}

absl::Status RequireSessionLevel(const Caller& caller, absl::string_view directory_id,
                                 RequiredLevelSource& levels, absl::string_view what) {
  absl::StatusOr<int> required = levels.RequiredLevel(directory_id);
  if (!required.ok()) return required.status();
  int level = 0;
  if (!absl::SimpleAtoi(caller.claims.acr, &level) || level < *required) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the session's level (", caller.claims.acr.empty() ? "none" : caller.claims.acr,
        ") is below the directory's required level ", *required,
        ": log in with enough methods before ", what));
  }
  return absl::OkStatus();
}

}  // namespace tally
