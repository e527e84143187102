#include "services/credential/factor_guard.h"

#include "absl/strings/str_cat.h"
#include "common/auth/freshness.h"
#include "common/logging/logging.h"
#include "common/status/error_details.h"
#include "common/util/text.h"

namespace tally::credential {

FactorGuard::FactorGuard(CredentialStore& users, FactorStore& factors, RequiredLevelSource& levels,
                         const Clock& clock, FactorGuardOptions options)
    : users_(users), factors_(factors), levels_(levels), clock_(clock), options_(options) {}

absl::Status FactorGuard::RequireFresh(const Caller& caller) const {
  return RequireFreshAuthentication(caller);
}

absl::StatusOr<StoredUser> FactorGuard::RequireEnrollingUser(const Caller& caller,
                                                             const std::string& user_id,
                                                             absl::string_view what) {
  if (caller.kind == Caller::Kind::kAnonymous) {
    return absl::UnauthenticatedError("credentials required: the user's session token");
  }
  if (caller.kind != Caller::Kind::kUser || !caller.IsUser(user_id)) {
    return absl::PermissionDeniedError(absl::StrCat("only the user may do this: ", what));
  }
  if (absl::Status s = CheckId("user_id", user_id); !s.ok()) return s;
  absl::StatusOr<StoredUser> user = users_.GetUser(user_id);
  if (!user.ok()) return user.status();
  // A token names its directory; a user id from elsewhere is not this session's user.
  if (user->user.directory_id() != caller.claims.directory_id) {
    return absl::PermissionDeniedError(absl::StrCat("only the user may do this: ", what));
  }
  if (absl::Status s = RequireSessionLevel(caller, caller.claims.directory_id, levels_, what);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RequireFresh(caller); !s.ok()) return s;
  return user;
}

absl::StatusOr<StoredUser> FactorGuard::RequireFreshSelfOrAdmin(const Caller& caller,
                                                                const std::string& user_id) {
  if (caller.kind != Caller::Kind::kUser) return RequireSelfOrAdmin(caller, "", "");
  if (absl::Status s = CheckId("user_id", user_id); !s.ok()) return s;
  absl::StatusOr<StoredUser> user = users_.GetUser(user_id);
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireSelfOrAdmin(caller, user->user.directory_id(), user_id); !s.ok()) {
    return s;
  }
  if (absl::Status s = RequireFresh(caller); !s.ok()) return s;
  return user;
}

absl::StatusOr<StoredUser> FactorGuard::LoadUser(const std::string& directory_id,
                                                 const std::string& user_id) {
  if (absl::Status s = CheckId("directory_id", directory_id); !s.ok()) return s;
  if (absl::Status s = CheckId("user_id", user_id); !s.ok()) return s;
  absl::StatusOr<StoredUser> user = users_.GetUser(user_id);
  if (!user.ok()) return user.status();
  if (user->user.directory_id() != directory_id) return absl::NotFoundError("no such user");
  return user;
}

absl::Status FactorGuard::TakeAttempt(const std::string& user_id, absl::string_view method) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<AttemptWindow> window =
      factors_.CountAttempt(user_id, method, options_.attempt_window, now);
  if (!window.ok()) return window.status();
  if (window->attempts <= options_.attempts_per_window) return absl::OkStatus();
  const absl::Duration retry = window->start + options_.attempt_window - now;
  return WithRetryInfo(absl::ResourceExhaustedError(
                           absl::StrCat("too many attempts for this user; retry in ",
                                        absl::FormatDuration(absl::Ceil(retry, absl::Seconds(1))))),
                       retry);
}

void FactorGuard::ForgiveAttempts(const std::string& user_id, absl::string_view method) {
  if (absl::Status s = factors_.ClearAttempts(user_id, method); !s.ok()) {
    GetLogger("credential")
        ->warn("could not clear the {} attempts of user {}: {}", method, user_id, s);
  }
}

}  // namespace tally::credential
