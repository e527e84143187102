#include "services/orchestrator/step_up.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

}  // namespace

int RequiredLevel(const LoginRecord& record, int directory_level) {
  // An application's min_level only raises the directory's level (rule 4c).
  return std::max({record.step_up_level, record.min_level, directory_level});
}

bool MayFinish(const LoginRecord& record) {
  return !IsStepUp(record) || !record.completed.empty();
}

std::vector<AuthMethod> CountedMethods(const LoginRecord& record) {
  std::vector<AuthMethod> methods;
  for (AuthMethod method : policy::KnownMethods()) {
    if (record.completed.contains(method) || record.carried.contains(method)) {
      methods.push_back(method);
    }
  }
  return methods;
}

std::map<AuthMethod, absl::Time> CountedMethodTimes(const LoginRecord& record) {
  std::map<AuthMethod, absl::Time> times = record.carried;
  for (const auto& [method, at] : record.completed) times[method] = at;
  return times;
}

StepUp::StepUp(LoginCore& core) : core_(core) {}

absl::StatusOr<pb::LoginState> StepUp::Start(const pb::StartStepUpRequest& request,
                                             absl::Time deadline) {
  if (request.session_token().empty()) {
    return absl::InvalidArgumentError("session_token is required");
  }
  if (request.required_level() <= 0 || request.required_level() > policy::kMaxPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("required_level must be 1 to ", policy::kMaxPoints));
  }
  if (request.max_age_seconds() < 0) {
    return absl::InvalidArgumentError("max_age_seconds must not be negative");
  }
  absl::StatusOr<SessionClaims> claims = core_.sessions().Validate(request.session_token());
  if (!claims.ok()) return claims.status();
  absl::StatusOr<AuthSettings> settings =
      core_.policy().GetAuthSettings(claims->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<User> user = core_.credentials().GetUser(claims->subject, deadline);
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError("invalid session token: the user no longer exists");
  }
  if (!user.ok()) return user.status();

  LoginRecord record = core_.NewLogin(claims->directory_id);
  record.subject = UserSubject(claims->subject);
  record.candidate_user_id = claims->subject;
  record.user_id = claims->subject;
  record.caps = core_.CapsFor(*user, *settings, deadline);
  record.step_up_level = request.required_level();
  // The new token joins the session's family: revoking either revokes both, and it expires
  // with it.
  const SessionFamily family = FamilyOf(*claims);
  record.family_id = family.id;
  record.family_expire_time = family.expires_at;
  // Each method of the session is carried when it was completed at most max_age_seconds ago;
  // the token's "amr_time" says when. A token without it predates per-method times: none count.
  // Carried methods count for the score but are not completed in this login: they stay on
  // offer, and finishing needs a method completed here.
  if (request.max_age_seconds() > 0) {
    for (const auto& [method, at] : MethodTimesOf(*claims)) {
      if (record.create_time - at > absl::Seconds(request.max_age_seconds())) continue;
      record.carried[method] = at;
      if (method == cpb::AUTH_METHOD_PASSKEY) {
        record.passkey_synced =
            std::find(claims->amr.begin(), claims->amr.end(), "swk") != claims->amr.end();
      }
    }
  }
  return core_.Create(std::move(record), *settings, deadline);
}

}  // namespace tally::orchestrator
