#pragma once

// The flags of tally-loadgen and their checks (only the binary and its test define them).

#include <string>

#include "absl/status/statusor.h"
#include "tools/loadgen/loadgen.h"

namespace tally::loadgen {

struct LoadgenConfig {
  Options run;
  std::string output;  // --output: the result's file; empty: the standard output
};

// INVALID_ARGUMENT naming the flag when a value is bad or --platform_key is missing.
absl::StatusOr<LoadgenConfig> LoadgenConfigFromFlags();

}  // namespace tally::loadgen
