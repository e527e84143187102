#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/auth/revocation.h"
#include "common/util/clock.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// SessionService.RevokeUserSessions: ends every session of a user issued until now, in every
// service (the per-user record of common/auth's RevocationStore, which each service's
// Authenticator reads), for the user themself or an admin of the user's directory, with a fresh
// token either way (API.md "Fresh authentication").
class UserSessions {
 public:
  // Everything referenced must outlive this.
  UserSessions(CredentialPeer& credentials, RevocationStore& revocations, const Clock& clock);

  absl::StatusOr<::tally::orchestrator::v1::RevokeUserSessionsResponse> RevokeUserSessions(
      const Caller& caller, const ::tally::orchestrator::v1::RevokeUserSessionsRequest& request,
      absl::Time deadline);

 private:
  CredentialPeer& credentials_;
  RevocationStore& revocations_;
  const Clock& clock_;
};

}  // namespace tally::orchestrator
