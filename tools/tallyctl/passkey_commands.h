#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// webauthn check (offline vector runs), passkey list|delete.
void RegisterPasskeyCommands(CommandRegistry& registry);

}  // namespace tally::cli
