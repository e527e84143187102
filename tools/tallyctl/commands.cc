#include "tools/tallyctl/command.h"
#include "tools/tallyctl/credential_commands.h"
#include "tools/tallyctl/policy_commands.h"

namespace tally::cli {

// One line per command group; each service's issue adds its own.
void RegisterAllCommands(CommandRegistry& registry) {
  RegisterPolicyCommands(registry);
  RegisterCredentialCommands(registry);
}

}  // namespace tally::cli
