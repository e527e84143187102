#include "services/credential/credential_callers.h"

#include <string>

namespace tally::credential {

ClusterCallers CredentialCallers() {
  const std::string orchestrator(kOrchestratorService);
  return ClusterCallers(
      "tally.credential.v1",
      {
          {"CredentialService.CreateUser", CredentialsOnly()},
          // The user or an admin with a token from anywhere; without one, the orchestrator.
          {"CredentialService.GetUser", ClusterOrCredentials({orchestrator})},
          {"CredentialService.FindUser", ClusterOnly({orchestrator})},
          {"CredentialService.ListUsers", CredentialsOnly()},
          {"CredentialService.UpdateContact", CredentialsOnly()},
          {"CredentialService.ConfirmContactChange", CredentialsOnly()},
          {"CredentialService.SetPassword", CredentialsOnly()},
          {"CredentialService.SetRoles", CredentialsOnly()},
          {"CredentialService.DeleteUser", CredentialsOnly()},
          {"CredentialService.VerifyPassword", ClusterOnly({orchestrator})},
          {"CredentialService.StartTotpEnrollment", CredentialsOnly()},
          {"CredentialService.ConfirmTotpEnrollment", CredentialsOnly()},
          {"CredentialService.DeleteTotp", CredentialsOnly()},
          {"CredentialService.VerifyTotp", ClusterOnly({orchestrator})},
          {"CredentialService.GenerateRecoveryCodes", CredentialsOnly()},
          {"CredentialService.VerifyRecoveryCode", ClusterOnly({orchestrator})},
          // The store behind the orchestrator's remembered devices.
          {"CredentialService.CreateDevice", ClusterOnly({orchestrator})},
          {"CredentialService.VerifyDevice", ClusterOnly({orchestrator})},
          {"CredentialService.ListDevices", ClusterOnly({orchestrator})},
          {"CredentialService.DeleteDevice", ClusterOnly({orchestrator})},
      });
}

}  // namespace tally::credential
