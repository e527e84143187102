#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// totp enroll|delete, recovery-codes generate: the credential service's second factors.
void RegisterFactorCommands(CommandRegistry& registry);

}  // namespace tally::cli
