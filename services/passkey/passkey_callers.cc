#include "services/passkey/passkey_callers.h"

#include <string>

namespace tally::passkey {

ClusterCallers PasskeyCallers() {
  const std::string orchestrator(kOrchestratorService);
  return ClusterCallers(
      "tally.passkey.v1",
      {
          {"PasskeyService.StartRegistration", CredentialsOnly()},
          {"PasskeyService.FinishRegistration", CredentialsOnly()},
          {"PasskeyService.StartAuthentication", ClusterOnly({orchestrator})},
          {"PasskeyService.FinishAuthentication", ClusterOnly({orchestrator})},
          {"PasskeyService.ListPasskeys", CredentialsOnly()},
          {"PasskeyService.DeletePasskey", CredentialsOnly()},
      });
}

}  // namespace tally::passkey
