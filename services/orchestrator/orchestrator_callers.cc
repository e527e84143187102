#include "services/orchestrator/orchestrator_callers.h"

#include <string>

namespace tally::orchestrator {

ClusterCallers OrchestratorCallers() {
  // Login clients: customer backends and the example web app, any certificate from the CA.
  const CallRule login_clients = ClusterOnly({std::string(kAnyCertificate)});
  return ClusterCallers(
      "tally.orchestrator.v1",
      {
          {"LoginService.StartLogin", login_clients},
          {"LoginService.SubmitPassword", login_clients},
          {"LoginService.SendOtp", login_clients},
          {"LoginService.VerifyOtp", login_clients},
          {"LoginService.StartPasskey", login_clients},
          {"LoginService.FinishPasskey", login_clients},
          {"LoginService.GetLogin", login_clients},
          {"LoginService.StartStepUp", login_clients},
          {"LoginService.SubmitTotp", login_clients},
          {"LoginService.SubmitRecoveryCode", login_clients},
          {"LoginService.RememberDevice", login_clients},
          {"LoginService.UnlockUser", CredentialsOnly()},
          {"SessionService.ValidateSession", login_clients},
          {"SessionService.GetJwks", login_clients},
          // The token in the request is the proof.
          {"SessionService.RevokeSession", login_clients},
          {"SessionService.RevokeUserSessions", CredentialsOnly()},
          {"SessionService.ListTrustedDevices", CredentialsOnly()},
          {"SessionService.ForgetDevice", CredentialsOnly()},
      });
}

}  // namespace tally::orchestrator
