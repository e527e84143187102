#pragma once

#include "absl/status/status.h"
#include "common/auth/caller.h"

namespace tally {

// Fresh authentication (API.md "Fresh authentication", DESIGN.md §6 "Account changes"): a
// user's own sensitive change (SetPassword, UpdateContact, ConfirmContactChange, the TOTP and
// recovery-code RPCs, PasskeyService.StartRegistration and DeletePasskey, RevokeUserSessions,
// ForgetDevice), and an admin's change to someone else's account, need a session token whose
// auth_time is at most --reauth_max_age old (Caller::fresh, set by the Authenticator).
//
// Call it last, in the order API.md gives:
//   1. the token is valid              (the Authenticator, before the logic runs)
//   2. the caller is allowed           (RequireSelfOrAdmin, RequireAdmin, ...)
//   3. the level, where the RPC has one (passkey registration: PERMISSION_DENIED below the
//                                        directory's level)
//   4. freshness                        (this)
// so a caller learns "log in again" only when nothing else stands in the way.
//
// A user's token that is not fresh: FAILED_PRECONDITION with the ErrorInfo
// REAUTHENTICATION_REQUIRED (domain "tally"); the caller answers it with
// LoginService.StartStepUp. The platform key is not subject to it (operators' automation has no
// login). No credentials: UNAUTHENTICATED, since a sensitive change is never a cluster call.
absl::Status RequireFreshAuthentication(const Caller& caller);

}  // namespace tally
