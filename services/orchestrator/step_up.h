#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/login_core.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// StartStepUp: a login that raises a valid session to a higher level. Each of the session's
// methods counts as completed when it was completed (the token's "amr_time") at most
// max_age_seconds ago; the others must be done again, with the factors of any login.
class StepUp {
 public:
  explicit StepUp(LoginCore& core);

  absl::StatusOr<pb::LoginState> Start(const pb::StartStepUpRequest& request, absl::Time deadline);

 private:
  LoginCore& core_;
};

}  // namespace tally::orchestrator
