#pragma once

#include "tools/tallyctl/command.h"

namespace tally::cli {

// health: grpc.health.v1 Check, for operators and for Kubernetes exec probes under mutual TLS.
void RegisterHealthCommands(CommandRegistry& registry);

}  // namespace tally::cli
