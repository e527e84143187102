#pragma once

#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/orchestrator/login_core.h"
#include "tally/credential/v1/credential.pb.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// What a code check (UserCodeStep's `check`) may add to an accepted step.
struct UserCodeAccepted {
  // Written with the accepted method (e.g. the recovery codes left).
  LoginUpdate update;
  // The user, when the check read it (saves Accept and the session a read).
  std::optional<::tally::credential::v1::User> user;
};

// A step whose code the credential service checks for the login's user (TOTP, recovery code):
// opens the step for `method` (offered now, the login open), reserves a check of the subject,
// then asks `check` about the user the login names (proven, or found by the username). `check`
// answers OK (the code is right), UNAUTHENTICATED or NOT_FOUND (wrong, used, replayed, or no such
// user: a rejected step counted for `method`), or another error (the check could not run: the
// reservation is given back and the error returned). An unknown username is rejected and counted
// without asking. `check` runs with kReservedCheckDeadline's rule: its peer call must not take
// the caller's deadline (see there).
absl::StatusOr<pb::LoginState> UserCodeStep(
    LoginCore& core, absl::string_view login_id, AuthMethod method, absl::Time deadline,
    absl::FunctionRef<absl::Status(const LoginRecord& record, const std::string& user_id,
                                   UserCodeAccepted& accepted)>
        check);

}  // namespace tally::orchestrator
