#pragma once

#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/login_store.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// StartStepUp: a login that raises a valid session to a higher level (API.md "Changed
// behaviour"). Each of the session's methods is carried (counts) when it was completed (the
// token's "amr_time") at most max_age_seconds ago; every enabled method the user can use stays
// on offer, carried ones included, and the step-up finishes only once at least one method was
// completed inside it (redoing a carried one counts): a token alone never buys a new one. The
// new token joins the session's family and expires with it.
class StepUp {
 public:
  explicit StepUp(LoginCore& core);

  absl::StatusOr<pb::LoginState> Start(const pb::StartStepUpRequest& request, absl::Time deadline);

 private:
  LoginCore& core_;
};

// The rules LoginCore asks of every login, which differ for a step-up (one home for them).

// Whether `record` is a step-up.
inline bool IsStepUp(const LoginRecord& record) { return record.step_up_level > 0; }
// The level `record` must reach: the directory's, or a step-up's own when higher (a step-up
// never asks for less than the directory's level, whatever it was started with).
int RequiredLevel(const LoginRecord& record, int directory_level);
// Whether `record` may finish once its score reaches the level: a step-up only after a method
// was completed inside it.
bool MayFinish(const LoginRecord& record);
// The methods that count for `record`'s score: those completed in it and, in a step-up, those
// carried from the session, in policy::KnownMethods() order.
std::vector<AuthMethod> CountedMethods(const LoginRecord& record);
// When each counted method was completed (inside the login: the new time).
std::map<AuthMethod, absl::Time> CountedMethodTimes(const LoginRecord& record);

}  // namespace tally::orchestrator
