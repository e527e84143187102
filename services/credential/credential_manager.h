#pragma once

#include <memory>

#include "absl/functional/function_ref.h"

#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "common/auth/revocation.h"
#include "common/otp/otp_peer.h"
#include "common/policy/directory_source.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/credential/bounded_hasher.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/credential_store.h"
#include "services/credential/factor_store.h"
#include "services/credential/password_policy.h"
#include "spdlog/logger.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

namespace pb = ::tally::credential::v1;

// The limits of the account-security checks (--current_password_attempts,
// --current_password_attempt_window).
struct AccountSecurityOptions {
  // Tries of a user's SetPassword with a current_password per user per window, right or wrong
  // (a right one starts a new window): 5 per 15 minutes lets a user mistype, while a stolen
  // session guessing the password gets ~480 tries a day, each costing an Argon2id verify.
  int current_password_attempts = 5;
  absl::Duration current_password_attempt_window = absl::Minutes(15);
};

// What the account-security checks need beyond the user store.
struct AccountSecurityDeps {
  // Where password, role and deletion changes end the user's sessions.
  RevocationStore& revocations;
  // Codes to new destinations and notices to old ones.
  OtpPeer& otp;
  // A directory's settings: its SMS countries, and NOT_FOUND for an unknown directory.
  AuthSettingsSource& directories;
  // The attempt windows of current_password (the table the second factors use).
  FactorStore& attempts;
  AccountSecurityOptions options;
};

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
                    CredentialMetrics& metrics, const Clock& clock, RandomSource& random,
                    AccountSecurityDeps security);

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
  // The user's own change (fresh) waits for the code sent to the new destination; an admin's
  // applies at once. Either way the old destination is told (SendNotice).
  absl::StatusOr<pb::UpdateContactResponse> UpdateContact(
      const Caller& caller, const pb::UpdateContactRequest& request,
      absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<pb::ConfirmContactChangeResponse> ConfirmContactChange(
      const Caller& caller, const pb::ConfirmContactChangeRequest& request,
      absl::Time deadline = absl::InfiniteFuture());
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
  // INVALID_ARGUMENT when `phone` (non-empty) is outside the directory's SMS countries.
  absl::Status CheckSmsCountry(const std::string& directory_id, const std::string& phone);
  // The user's own SetPassword: one attempt from the per-user budget, then one Argon2id verify.
  absl::Status CheckCurrentPassword(const StoredUser& user, const std::string& current_password,
                                    absl::Time deadline);
  // Ends the user's sessions around `commit` (a password, role or deletion change): a mark
  // before (so no change is ever committed while older sessions stay valid: Redis down refuses
  // the change) and one after (a login that raced the commit with the old state ends too).
  absl::Status EndSessionsAround(const StoredUser& user, absl::FunctionRef<absl::Status()> commit);
  // A NOTICE_CONTACT_CHANGED to `old_value` of `field`; failures are logged, not returned: the
  // change is already applied.
  void NotifyOldDestination(const std::string& directory_id, const std::string& user_id,
                            const std::string& field, const std::string& old_value,
                            absl::Time deadline);
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
  AccountSecurityDeps security_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tally::credential
