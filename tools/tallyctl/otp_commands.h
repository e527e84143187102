#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// otp send|verify|dead-letters.
void RegisterOtpCommands(CommandRegistry& registry);

}  // namespace tally::cli
