#pragma once

// Where the credential service keeps the second factors it owns (DESIGN.md §6): authenticator
// apps (TOTP), recovery codes, and the per-user budget of attempts at them. Every method is one
// atomic step; store failures are UNAVAILABLE.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tally::credential {

// A TOTP secret as stored: sealed (AES-256-GCM, see TotpManager), never in the clear.
struct TotpSecret {
  std::string directory_id;
  std::string user_id;
  std::string sealed_secret;
};

// An enrolment waiting for its first code.
struct TotpEnrollment {
  std::string enrollment_id;
  TotpSecret secret;
  absl::Time expire_time;
};

// A confirmed authenticator app.
struct TotpAuthenticator {
  TotpSecret secret;
  // The last time step accepted (-1: none yet); only later steps count.
  int64_t last_step = -1;
};

// The attempts of one user at one method in the current window.
struct AttemptWindow {
  int attempts = 0;  // including the one just counted
  absl::Time start;  // when the window began
};

class FactorStore {
 public:
  virtual ~FactorStore() = default;

  // Stores a pending enrolment, replacing the user's earlier pending ones (never the confirmed
  // authenticator). NOT_FOUND when the user is gone.
  virtual absl::Status PutTotpEnrollment(const TotpEnrollment& enrollment) = 0;
  // NOT_FOUND when unknown, used, replaced or expired at `now`.
  virtual absl::StatusOr<TotpEnrollment> GetTotpEnrollment(absl::string_view enrollment_id,
                                                           absl::Time now) = 0;
  // Consumes the enrolment and makes its secret the user's authenticator (replacing an earlier
  // one), with `step` — the step of the confirming code — as the last step used, in one
  // transaction. NOT_FOUND when the enrolment is gone (a racing confirm took it).
  virtual absl::Status ConfirmTotpEnrollment(absl::string_view enrollment_id, int64_t step,
                                             absl::Time now) = 0;
  // NOT_FOUND when the user has no authenticator app.
  virtual absl::StatusOr<TotpAuthenticator> GetTotp(absl::string_view user_id) = 0;
  // Moves the user's last used step to `step` only if it is earlier (one conditional UPDATE):
  // true when it moved, false when `step` was used already (a replay) or the app is gone. Of
  // parallel calls with one step exactly one gets true.
  virtual absl::StatusOr<bool> AdvanceTotpStep(absl::string_view user_id, int64_t step) = 0;
  // Removes the user's authenticator app and pending enrolments; false when there was no app.
  virtual absl::StatusOr<bool> DeleteTotp(absl::string_view user_id) = 0;

  // Replaces the user's recovery codes with `code_macs` (RecoveryCodeMac) in one transaction:
  // the earlier set stops working the moment the new one exists. NOT_FOUND when the user is gone.
  virtual absl::Status ReplaceRecoveryCodes(absl::string_view directory_id,
                                            absl::string_view user_id,
                                            const std::vector<std::string>& code_macs,
                                            absl::Time now) = 0;
  // Marks the unused code with this MAC used (one conditional UPDATE, so of parallel uses of one
  // code exactly one succeeds) and returns the unused codes left; NOT_FOUND when no unused code
  // of this user has the MAC.
  virtual absl::StatusOr<int> UseRecoveryCode(absl::string_view directory_id,
                                              absl::string_view user_id,
                                              absl::string_view code_mac, absl::Time now) = 0;

  // Counts one attempt of `user_id` at `method` in a fixed window of `window` (a new window
  // starts when the last began `window` ago or more), atomically: parallel attempts each get
  // their own count.
  virtual absl::StatusOr<AttemptWindow> CountAttempt(absl::string_view user_id,
                                                     absl::string_view method,
                                                     absl::Duration window, absl::Time now) = 0;
  // Forgets the attempts of `user_id` at `method` (after a success).
  virtual absl::Status ClearAttempts(absl::string_view user_id, absl::string_view method) = 0;
};

}  // namespace tally::credential
