#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// user create|get|find|list|set-contact|set-password|set-roles|delete, and dev-token (a session
// token signed with a local key, for administering users before an orchestrator exists).
void RegisterCredentialCommands(CommandRegistry& registry);

}  // namespace tally::cli
