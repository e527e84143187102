#include "common/auth/freshness.h"

#include "common/status/error_details.h"
#include "common/status/error_reasons.h"

namespace tally {

absl::Status RequireFreshAuthentication(const Caller& caller) {
  switch (caller.kind) {
    case Caller::Kind::kPlatform:
      return absl::OkStatus();
    case Caller::Kind::kUser:
      if (caller.fresh) return absl::OkStatus();
      return WithErrorInfo(
          absl::FailedPreconditionError(
              "this change needs a recent login: authenticate again (LoginService.StartStepUp)"),
          reasons::kReauthenticationRequired);
    case Caller::Kind::kAnonymous:
      break;
  }
  return absl::UnauthenticatedError("credentials required");
}

}  // namespace tally
