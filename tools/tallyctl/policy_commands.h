#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// directory create|get|list, settings get|set|audit, jwks.
void RegisterPolicyCommands(CommandRegistry& registry);

}  // namespace tally::cli
