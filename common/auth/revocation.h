#pragma once

// Revoked sessions (DESIGN.md §3: `{dir}:revoked:<sid>` in Redis until the token would have
// expired). The orchestrator's RevokeSession writes them; every service that takes session
// tokens looks them up, through the Authenticator, so a revoked token is refused everywhere and
// not only by SessionService.ValidateSession.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tally {

// Answers whether a session was revoked. Implementations must be safe to call from many threads.
class RevocationChecker {
 public:
  virtual ~RevocationChecker() = default;
  // Any error means "cannot tell" (the store is down): callers must then refuse the token with
  // UNAVAILABLE, never accept it (fail closed).
  virtual absl::StatusOr<bool> IsRevoked(absl::string_view directory_id,
                                         absl::string_view session_id) const = 0;
};

// The orchestrator's side: it also revokes.
class RevocationStore : public RevocationChecker {
 public:
  // Remembers the session as revoked until `until` (the token's expiry; nothing to do when that
  // has passed). Revoking twice is fine.
  virtual absl::Status Revoke(absl::string_view directory_id, absl::string_view session_id,
                              absl::Time until) = 0;
};

}  // namespace tally
