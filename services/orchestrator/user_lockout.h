#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "services/orchestrator/login_metrics.h"
#include "services/orchestrator/login_store.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// LoginService.UnlockUser: ends a user's lockout, the permanent one of NIST SP 800-63B's cap
// (100 consecutive failures) too, for an admin of the user's directory or the platform. Logged
// with the actor and counted (LoginMetrics::PermanentLock). Logins the lock ended stay ended.
class UserLockout {
 public:
  // Everything referenced must outlive this; `metrics` may be null.
  UserLockout(CredentialPeer& credentials, LockoutStore& lockout, LoginMetrics* metrics);

  absl::StatusOr<::tally::orchestrator::v1::UnlockUserResponse> UnlockUser(
      const Caller& caller, const ::tally::orchestrator::v1::UnlockUserRequest& request,
      absl::Time deadline);

 private:
  CredentialPeer& credentials_;
  LockoutStore& lockout_;
  LoginMetrics* const metrics_;
};

}  // namespace tally::orchestrator
