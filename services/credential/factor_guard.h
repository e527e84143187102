#pragma once

// The checks the credential service's second-factor RPCs share: who may enrol (DESIGN.md §1
// rule 8: the user, at the directory's level, with a fresh session), who may remove, and the
// per-user budget of attempts at codes that bounds guessing by any cluster caller.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/policy/directory_source.h"
#include "common/util/clock.h"
#include "services/credential/credential_store.h"
#include "services/credential/factor_store.h"

namespace tally::credential {

struct FactorGuardOptions {
  // --factor_attempts, --factor_attempt_window.
  // Attempts at one method (TOTP, recovery codes) per user per window, right or wrong; a right
  // code starts a new window. 10 per 15 minutes: a user who mistypes never meets it, while a
  // cluster caller guessing TOTP codes gets ~960 tries a day (3 codes in 10^6 each: 0.3%).
  int attempts_per_window = 10;
  absl::Duration attempt_window = absl::Minutes(15);
};

class FactorGuard {
 public:
  // Everything referenced must outlive the guard.
  FactorGuard(CredentialStore& users, FactorStore& factors, RequiredLevelSource& levels,
              const Clock& clock, FactorGuardOptions options);

  // The user `user_id` themself, enrolling a factor (`what`: "enrolling an authenticator
  // app"): checks in API.md's order — credentials (UNAUTHENTICATED), the user of this token
  // (PERMISSION_DENIED), the directory's level (PERMISSION_DENIED), freshness
  // (FAILED_PRECONDITION REAUTHENTICATION_REQUIRED) — then loads the user.
  absl::StatusOr<StoredUser> RequireEnrollingUser(const Caller& caller, const std::string& user_id,
                                                  absl::string_view what);
  // The user themself or an admin of the user's directory, with a fresh token either way.
  absl::StatusOr<StoredUser> RequireFreshSelfOrAdmin(const Caller& caller,
                                                     const std::string& user_id);
  // FAILED_PRECONDITION with REAUTHENTICATION_REQUIRED unless the Authenticator found the
  // caller's token fresh (the shared --reauth_max_age: common/auth/freshness.h).
  absl::Status RequireFresh(const Caller& caller) const;
  // For cluster calls: the user `user_id` of `directory_id` (ids checked); NOT_FOUND when
  // unknown or in another directory.
  absl::StatusOr<StoredUser> LoadUser(const std::string& directory_id, const std::string& user_id);
  // One attempt of `user_id` at `method` ("totp", "recovery_code") from the budget; once it is
  // spent, RESOURCE_EXHAUSTED with RetryInfo (the end of the window) and nothing is checked.
  absl::Status TakeAttempt(const std::string& user_id, absl::string_view method);
  // After a right code: the window starts afresh. Failures only logged: the budget then just
  // runs out sooner.
  void ForgiveAttempts(const std::string& user_id, absl::string_view method);

  const Clock& clock() const { return clock_; }

 private:
  CredentialStore& users_;
  FactorStore& factors_;
  RequiredLevelSource& levels_;
  const Clock& clock_;
  FactorGuardOptions options_;
};

}  // namespace tally::credential
