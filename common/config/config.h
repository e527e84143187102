#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tally {

// Start-up of every Tally binary: each Abseil flag `--foo_bar` takes its default from the
// environment variable `TALLY_FOO_BAR` when set, then from the command line. Unknown flags and
// unparsable values end the process with one line on stderr and exit code 2. `--help` (or -h)
// prints HelpText(usage) and exits 0; `--helpfull` prints Abseil's listing of every flag. Returns
// the positional arguments (argv[0] first).
std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage);

// The same, without exiting: for tests. `env` looks up an environment variable.
absl::Status ParseFlagsInto(const std::vector<std::string>& args,
                            std::string (*env)(const std::string& name),
                            std::vector<std::string>* positional);

// `args` (flags only, no program name) into the flags, without the environment: for the unit
// tests of a service's configuration (inside an absl::FlagSaver scope).
absl::Status ParseFlagsForTest(std::vector<std::string> args);

// What --help prints: `usage` (which starts with the program's name), then every flag of the
// program, Abseil's own aside, with its default and help, sorted by name. Never the current
// values: they may be secrets from the environment. --helpfull keeps Abseil's full listing.
std::string HelpText(absl::string_view usage);

// Moves the value of `value` into `*out`, or returns its error: one statement per checked piece
// of a typed configuration (services/<svc>/<svc>_config.cc).
template <typename T, typename U>
absl::Status TakeValue(absl::StatusOr<T> value, U* out) {
  if (!value.ok()) return value.status();
  *out = *std::move(value);
  return absl::OkStatus();
}

// Ends the process for bad configuration: `<program>: invalid configuration: <why>`, exit 2.
// Services reach it through ServiceMain::RequireConfig (common/server/service_main.h).
[[noreturn]] void ExitBadConfig(absl::string_view program, const absl::Status& status);

// The environment variable that feeds a flag: "listen" → "TALLY_LISTEN".
std::string EnvNameForFlag(absl::string_view flag_name);

}  // namespace tally
