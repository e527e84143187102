#include "services/policy/policy_callers.h"

#include <string>

namespace tally::policy {

ClusterCallers PolicyCallers() {
  // Every service that evaluates a directory's settings on a login's or an enrolment's behalf.
  const std::vector<std::string> readers = {std::string(kOrchestratorService),
                                            std::string(kPasskeyService),
                                            std::string(kCredentialService)};
  return ClusterCallers(
      "tally.policy.v1",
      {
          {"DirectoryService.CreateDirectory", CredentialsOnly()},
          {"DirectoryService.GetDirectory", ClusterOrCredentials(readers)},
          {"DirectoryService.ListDirectories", CredentialsOnly()},
          {"PolicyService.GetAuthSettings", ClusterOrCredentials(readers)},
          {"PolicyService.UpdateAuthSettings", CredentialsOnly()},
          {"PolicyService.Evaluate", ClusterOnly(readers)},
          {"PolicyService.ListAuditEvents", CredentialsOnly()},
      });
}

}  // namespace tally::policy
