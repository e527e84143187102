#include "services/orchestrator/user_lockout.h"

#include <string>

#include "common/logging/logging.h"
#include "common/util/text.h"
#include "services/orchestrator/login_core.h"

namespace tally::orchestrator {
namespace {

namespace pb = ::tally::orchestrator::v1;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("lockout");
  return logger;
}

}  // namespace

UserLockout::UserLockout(CredentialPeer& credentials, LockoutStore& lockout, LoginMetrics* metrics)
    : credentials_(credentials), lockout_(lockout), metrics_(metrics) {}

absl::StatusOr<pb::UnlockUserResponse> UserLockout::UnlockUser(const Caller& caller,
                                                               const pb::UnlockUserRequest& request,
                                                               absl::Time deadline) {
  // Who may ask at all, before anything is read: an admin (of the token's directory) or the
  // platform.
  if (caller.kind != Caller::Kind::kPlatform) {
    if (absl::Status s = RequireAdmin(caller, caller.claims.directory_id); !s.ok()) return s;
  }
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  absl::StatusOr<::tally::credential::v1::User> user =
      credentials_.GetUser(request.user_id(), deadline);
  // An admin of another directory learns nothing about the user: NOT_FOUND as for no user.
  if (absl::IsNotFound(user.status()) || (user.ok() && caller.kind != Caller::Kind::kPlatform &&
                                          user->directory_id() != caller.claims.directory_id)) {
    return absl::NotFoundError("unknown user");
  }
  if (!user.ok()) return user.status();
  absl::StatusOr<bool> was_permanent =
      lockout_.Unlock(user->directory_id(), UserSubject(user->user_id()));
  if (!was_permanent.ok()) return was_permanent.status();
  if (*was_permanent && metrics_ != nullptr) metrics_->PermanentLock("unlocked");
  Log()->info("{} unlocked user {} in directory {}{}", caller.Actor(), user->user_id(),
              user->directory_id(), *was_permanent ? " (a permanent lock)" : "");
  return pb::UnlockUserResponse();
}

}  // namespace tally::orchestrator
