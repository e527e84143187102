#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// login (interactive), session validate|revoke|jwks.
void RegisterOrchestratorCommands(CommandRegistry& registry);

}  // namespace tally::cli
