#include "services/orchestrator/user_sessions.h"

#include <string>

#include "common/auth/freshness.h"
#include "common/util/text.h"

namespace tally::orchestrator {

namespace pb = ::tally::orchestrator::v1;

UserSessions::UserSessions(CredentialPeer& credentials, RevocationStore& revocations,
                           const Clock& clock)
    : credentials_(credentials), revocations_(revocations), clock_(clock) {}

absl::StatusOr<pb::RevokeUserSessionsResponse> UserSessions::RevokeUserSessions(
    const Caller& caller, const pb::RevokeUserSessionsRequest& request, absl::Time deadline) {
  // A token names its directory: the user must be in it, whoever asks (the platform key is
  // refused: API.md lists the user and the directory's admins only).
  const std::string& directory_id = caller.claims.directory_id;
  if (absl::Status s = RequireSelfOrAdmin(caller, directory_id, request.user_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  if (!caller.IsUser(request.user_id())) {
    // An admin ending someone else's sessions: someone of the admin's own directory.
    absl::StatusOr<::tally::credential::v1::User> user =
        credentials_.GetUser(request.user_id(), deadline);
    if (absl::IsNotFound(user.status()) ||
        (user.ok() && user->directory_id() != directory_id)) {
      return absl::NotFoundError("unknown user");
    }
    if (!user.ok()) return user.status();
  }
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  // Every token of the user issued up to now is refused from here on, in every service.
  if (absl::Status s = revocations_.RevokeUser(directory_id, request.user_id(), clock_.Now());
      !s.ok()) {
    return s;
  }
  return pb::RevokeUserSessionsResponse();
}

}  // namespace tally::orchestrator
