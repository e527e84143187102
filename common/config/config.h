#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace tally {

// Start-up of every Tally binary: each Abseil flag `--foo_bar` takes its default from the
// environment variable `TALLY_FOO_BAR` when set, then from the command line. Unknown flags and
// unparsable values end the process with one line on stderr and exit code 2. Returns the
// positional arguments (argv[0] first).
std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage);

// The same, without exiting: for tests. `env` looks up an environment variable.
absl::Status ParseFlagsInto(const std::vector<std::string>& args,
                            std::string (*env)(const std::string& name),
                            std::vector<std::string>* positional);

// Ends the process for bad configuration: `<program>: invalid configuration: <why>`, exit 2.
[[noreturn]] void ExitBadConfig(absl::string_view program, const absl::Status& status);

// The environment variable that feeds a flag: "listen" → "TALLY_LISTEN".
std::string EnvNameForFlag(absl::string_view flag_name);

}  // namespace tally
