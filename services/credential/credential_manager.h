#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/credential/bounded_hasher.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/credential_store.h"
#include "services/credential/password_policy.h"
#include "spdlog/logger.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

namespace pb = ::tally::credential::v1;

// The credential service's logic: who may do what (API.md), input validation and
// normalisation, password rules, hashing and the contact history. Free of gRPC so it is tested
// with a fake store.
//
// Who may call, beyond API.md's table: the platform key may CreateUser (it bootstraps the first
// admin of a directory) and, like any caller, GetUser; every other user-management call needs a
// session token of the user or of an admin of the user's directory, so the audit trail always
// names a person.
class CredentialManager {
 public:
  // Everything referenced must outlive the manager.
  CredentialManager(CredentialStore& store, BoundedHasher& hasher, const PasswordPolicy& policy,
                    CredentialMetrics& metrics, const Clock& clock, RandomSource& random);

  // The calls that hash take the caller's deadline: a hash whose answer would come too late is
  // refused (RESOURCE_EXHAUSTED) instead of taking the turn of a caller still waiting.
  absl::StatusOr<pb::CreateUserResponse> CreateUser(const Caller& caller,
                                                    const pb::CreateUserRequest& request,
                                                    absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<pb::GetUserResponse> GetUser(const Caller& caller,
                                              const pb::GetUserRequest& request);
  absl::StatusOr<pb::FindUserResponse> FindUser(const Caller& caller,
                                                const pb::FindUserRequest& request);
  absl::StatusOr<pb::ListUsersResponse> ListUsers(const Caller& caller,
                                                  const pb::ListUsersRequest& request);
  absl::StatusOr<pb::UpdateContactResponse> UpdateContact(const Caller& caller,
                                                          const pb::UpdateContactRequest& request);
  absl::StatusOr<pb::SetPasswordResponse> SetPassword(
      const Caller& caller, const pb::SetPasswordRequest& request,
      absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<pb::SetRolesResponse> SetRoles(const Caller& caller,
                                                const pb::SetRolesRequest& request);
  absl::StatusOr<pb::DeleteUserResponse> DeleteUser(const Caller& caller,
                                                    const pb::DeleteUserRequest& request);
  absl::StatusOr<pb::VerifyPasswordResponse> VerifyPassword(
      const Caller& caller, const pb::VerifyPasswordRequest& request,
      absl::Time deadline = absl::InfiniteFuture());

 private:
  enum class Who { kSelfOrAdmin, kAdmin };
  // Loads the user `user_id` names, once the caller may act on it: credentials first (no look-up
  // for anonymous callers or the platform key), then the id, then the user's directory.
  absl::StatusOr<StoredUser> LoadForChange(const Caller& caller, const std::string& user_id,
                                           Who who);
  // VerifyPassword after validation: the outcome for the metrics and the answer.
  absl::StatusOr<pb::VerifyPasswordResponse> CheckPassword(const std::string& directory_id,
                                                           const std::string& username_key,
                                                           const std::string& password,
                                                           absl::Time deadline,
                                                           CheckOutcome* outcome);

  CredentialStore& store_;
  BoundedHasher& hasher_;
  const PasswordPolicy& policy_;
  CredentialMetrics& metrics_;
  const Clock& clock_;
  RandomSource& random_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tally::credential
