#pragma once

// Revoked sessions (DESIGN.md §6: revocation works per session, per step-up family and per
// user). Records live in Redis (RedisRevocationStore) under the directory's hash tag:
//   {dir}:revoked:<sid>            one session (SessionService.RevokeSession)
//   {dir}:revoked-family:<fam>     every token of its family: the login's and its step-ups'
//   {dir}:user-revoked:<user_id>   every session of the user issued at or before the time it
//                                  holds (RevokeUserSessions; a password change, a role change,
//                                  the user's deletion)
// Every service that takes session tokens looks each valid token up through the Authenticator,
// so a revoked token is refused everywhere and not only by SessionService.ValidateSession.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/jwt.h"

namespace tally {

// The record keys above. The hash tag is the directory, like every key of a directory, so one
// check reads all three in one slot.
std::string RevokedSessionKey(absl::string_view directory_id, absl::string_view session_id);
std::string RevokedFamilyKey(absl::string_view directory_id, absl::string_view family_id);
std::string UserRevokedKey(absl::string_view directory_id, absl::string_view user_id);

// The rules every store keeps (one home):
// Until when the records of revoking `claims`' session and family must live: until its tokens
// are refused as expired anyway (every token of a family expires with the family's first).
absl::Time SessionRecordsExpiry(const SessionClaims& claims);
// Until when a user's mark set at `at` must live: until no token issued by then can be valid.
absl::Time UserMarkExpiry(absl::Time at);
// Whether a user's mark set at `at` ends the session of `claims`: issued at or before it, to the
// millisecond (the same millisecond counts as before: the mark wins a tie).
bool EndedByUserMark(const SessionClaims& claims, absl::Time at);

// Answers whether a session was revoked. Implementations must be safe to call from many threads.
class RevocationChecker {
 public:
  virtual ~RevocationChecker() = default;
  // Whether the verified token of `claims` was revoked: its session, its family
  // (SessionClaims::Family) or its user at or after the token's issue time (to the
  // millisecond: a token issued after a revocation, even in the same second, stays valid). Any
  // error means "cannot tell" (the store is down): callers must then refuse the token with
  // UNAVAILABLE, never accept it (fail closed).
  virtual absl::StatusOr<bool> IsRevoked(const SessionClaims& claims) const = 0;
};

// What services that end sessions write through (the orchestrator's RevokeSession and
// RevokeUserSessions, the credential service's password, role and deletion changes).
class RevocationStore : public RevocationChecker {
 public:
  // Revokes the session of `claims` and its whole family (a login's token and its step-ups'),
  // until every token of the family is refused as expired anyway (exp + kTokenLeeway; a step-up
  // token never outlives its family's first). Nothing to do once that has passed; revoking twice
  // is fine.
  virtual absl::Status RevokeSession(const SessionClaims& claims) = 0;

  // Ends every session of `user_id` in `directory_id` issued at or before `at` (usually now),
  // in every service; sessions issued later (a new login right after a password change) stay
  // valid. A later `at` moves the mark forward, an earlier one never moves it back. The record
  // lives until no token issued before `at` can still be valid (kMaxSessionLifetime +
  // kTokenLeeway after `at`).
  virtual absl::Status RevokeUser(absl::string_view directory_id, absl::string_view user_id,
                                  absl::Time at) = 0;
};

}  // namespace tally
