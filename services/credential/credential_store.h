#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/util/paging.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

using ::tally::credential::v1::User;

// A user as stored: the API's User (has_password set from the hash) plus what never leaves the
// service.
struct StoredUser {
  User user;
  std::string username_key;   // UsernameKey(user.username())
  std::string password_hash;  // PHC string; empty: no password
};

// One change of a contact field, kept so later issues can require re-verification.
struct ContactChange {
  std::string user_id;
  std::string field;  // "email" or "phone_number"
  absl::Time time;
  std::string actor;  // Caller::Actor()
};

// A user's contact change waiting for the code sent to the new destination
// (ConfirmContactChange). At most one per user and field: a newer one replaces it.
struct PendingContactChange {
  std::string change_id;
  std::string user_id;
  std::string directory_id;
  std::string field;         // "email" or "phone_number"
  std::string value;         // the new, normalised destination
  std::string challenge_id;  // the OTP service's challenge for the code sent to `value`
  absl::Time expire_time;    // the code's: the change dies with it
};

// What applying a pending change did.
struct AppliedContactChange {
  StoredUser user;        // with the new value
  std::string old_value;  // what it replaced (empty when the field was empty)
};

// Where users live. Every method is one atomic step; store failures are UNAVAILABLE.
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;

  // Adds `user` and the contact changes that record its initial e-mail and phone number.
  // ALREADY_EXISTS when its directory has a user with the same username_key.
  virtual absl::Status CreateUser(const StoredUser& user,
                                  const std::vector<ContactChange>& changes) = 0;
  // NOT_FOUND when there is no such user.
  virtual absl::StatusOr<StoredUser> GetUser(std::string_view user_id) = 0;
  virtual absl::StatusOr<StoredUser> FindUser(std::string_view directory_id,
                                              std::string_view username_key) = 0;
  // In creation order, starting after `cursor` (0: from the beginning).
  virtual absl::StatusOr<Page<User>> ListUsers(std::string_view directory_id, int64_t cursor,
                                               int limit) = 0;
  // Replaces e-mail and phone number, recording a ContactChange (with `actor` and `time`) for
  // each that differs from the stored one.
  virtual absl::StatusOr<StoredUser> UpdateContact(std::string_view user_id,
                                                   const std::string& email,
                                                   const std::string& phone_number,
                                                   const std::string& actor, absl::Time time) = 0;
  // A new password; the user's remembered devices are forgotten in the same step (DESIGN.md §1
  // rule 9).
  virtual absl::StatusOr<StoredUser> SetPasswordHash(std::string_view user_id,
                                                     const std::string& password_hash,
                                                     absl::Time time) = 0;
  // Replaces the hash only while it is still `expected` (a re-hash after login must not undo a
  // concurrent SetPassword); OK either way, NOT_FOUND when the user is gone.
  virtual absl::Status ReplacePasswordHash(std::string_view user_id, const std::string& expected,
                                           const std::string& password_hash) = 0;
  virtual absl::StatusOr<StoredUser> SetRoles(std::string_view user_id,
                                              const std::vector<std::string>& roles) = 0;
  // Deletes the user and its contact history.
  virtual absl::Status DeleteUser(std::string_view user_id) = 0;
  // Stores `change`, replacing the user's pending change of the same field.
  virtual absl::Status PutPendingContactChange(const PendingContactChange& change) = 0;
  // NOT_FOUND when unknown, replaced, applied or expired at `now`.
  virtual absl::StatusOr<PendingContactChange> GetPendingContactChange(
      std::string_view change_id, absl::Time now) = 0;
  // In one step: removes the pending change (NOT_FOUND when it is gone or expired at `time`),
  // sets its field on the user and records the ContactChange with `actor`.
  virtual absl::StatusOr<AppliedContactChange> ApplyPendingContactChange(
      std::string_view change_id, const std::string& actor, absl::Time time) = 0;
  // Removes a pending change (its code expired or ran out of attempts); OK when already gone.
  virtual absl::Status DeletePendingContactChange(std::string_view change_id) = 0;
  // Oldest first.
  virtual absl::StatusOr<std::vector<ContactChange>> ListContactChanges(
      std::string_view user_id) = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace tally::credential
