#pragma once

#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "common/config/config.h"

namespace tally {

// For the unit tests of a service's typed configuration: what `from_flags()` makes of the flags
// `flags` ("--name=value", no program name) with every other flag at its default and no TALLY_*
// variable read; every flag is restored afterwards. A flag that does not parse is the error.
template <typename FromFlags>
auto ConfigFromFlagsForTest(const std::vector<std::string>& flags, FromFlags from_flags)
    -> decltype(from_flags()) {
  absl::FlagSaver saver;
  if (absl::Status s = ParseFlagsForTest(flags); !s.ok()) return s;
  return from_flags();
}

}  // namespace tally
