#include "tools/tallyctl/command.h"
#include "tools/tallyctl/credential_commands.h"
#include "tools/tallyctl/factor_commands.h"
#include "tools/tallyctl/health_commands.h"
#include "tools/tallyctl/orchestrator_commands.h"
#include "tools/tallyctl/otp_commands.h"
#include "tools/tallyctl/passkey_commands.h"
#include "tools/tallyctl/policy_commands.h"

namespace tally::cli {

// One line per command group; each service's issue adds its own.
void RegisterAllCommands(CommandRegistry& registry) {
  RegisterPolicyCommands(registry);
  RegisterHealthCommands(registry);
  RegisterCredentialCommands(registry);
  RegisterFactorCommands(registry);
  RegisterOtpCommands(registry);
  RegisterPasskeyCommands(registry);
  RegisterOrchestratorCommands(registry);
}

}  // namespace tally::cli
