#pragma once

// What services other than policy need to know about a directory, asked from the policy
// service as a cluster caller (API.md "Cluster callers": passkey, credential): its required
// level (DESIGN.md §1 rule 8: passkeys, authenticator apps and recovery codes are registered
// only from a session at that level) and its display name (the issuer of otpauth URIs).

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally {

// The level a session must reach to register a factor.
class RequiredLevelSource {
 public:
  virtual ~RequiredLevelSource() = default;
  // NOT_FOUND unknown directory; UNAVAILABLE when the policy service cannot be reached.
  virtual absl::StatusOr<int> RequiredLevel(absl::string_view directory_id) = 0;
};

// A directory's display name.
class DirectoryNameSource {
 public:
  virtual ~DirectoryNameSource() = default;
  // NOT_FOUND unknown directory; UNAVAILABLE when the policy service cannot be reached.
  virtual absl::StatusOr<std::string> DisplayName(absl::string_view directory_id) = 0;
};

// A directory's authentication settings (the credential service reads its SMS country
// allow-list when a phone number is set).
class AuthSettingsSource {
 public:
  virtual ~AuthSettingsSource() = default;
  // NOT_FOUND unknown directory; UNAVAILABLE when the policy service cannot be reached.
  virtual absl::StatusOr<::tally::policy::v1::AuthSettings> AuthSettings(
      absl::string_view directory_id) = 0;
};

// All from the policy service (GetAuthSettings, GetDirectory), with a deadline on every call.
// The policy service's refusals of our own call are UNAVAILABLE to our caller: to them the
// dependency is not working.
class PolicyDirectorySource final : public RequiredLevelSource,
                                    public DirectoryNameSource,
                                    public AuthSettingsSource {
 public:
  PolicyDirectorySource(
      std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> policy,
      std::shared_ptr<::tally::policy::v1::DirectoryService::StubInterface> directories,
      absl::Duration timeout);
  // Both services over one channel to the policy service.
  PolicyDirectorySource(const std::shared_ptr<grpc::ChannelInterface>& policy_channel,
                        absl::Duration timeout);

  absl::StatusOr<int> RequiredLevel(absl::string_view directory_id) override;
  absl::StatusOr<std::string> DisplayName(absl::string_view directory_id) override;
  absl::StatusOr<::tally::policy::v1::AuthSettings> AuthSettings(
      absl::string_view directory_id) override;

 private:
  std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> policy_;
  std::shared_ptr<::tally::policy::v1::DirectoryService::StubInterface> directories_;
  absl::Duration timeout_;
};

// Rule 8: `caller` must be a session of `directory_id` whose `acr` reaches the directory's
// required level; PERMISSION_DENIED "…below the directory's required level N: log in with
// enough methods before <what>" otherwise. NOT_FOUND unknown directory; UNAVAILABLE policy
// down. Who the caller is must be checked before (this only compares levels).
absl::Status RequireSessionLevel(const Caller& caller, absl::string_view directory_id,
                                 RequiredLevelSource& levels, absl::string_view what);

}  // namespace tally
