#include "common/config/config.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tally {
namespace {

std::string GetEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? std::string() : std::string(value);
}

absl::Status SetFlag(absl::CommandLineFlag& flag, absl::string_view value, absl::string_view source) {
  std::string error;
  if (!flag.ParseFrom(value, &error)) {
    // Abseil's error quotes the value, which may be a secret (a key, a URL with a password), so
    // only the flag, the source and an example of the expected form are reported.
    return absl::InvalidArgumentError(absl::StrCat("bad value for --", flag.Name(), " (from ",
                                                   source, "); expected a value like \"",
                                                   flag.DefaultValue(), "\""));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EnvNameForFlag(absl::string_view flag_name) {
  return absl::StrCat("TALLY_", absl::AsciiStrToUpper(flag_name));
}

absl::Status ParseFlagsInto(const std::vector<std::string>& args,
                            std::string (*env)(const std::string& name),
                            std::vector<std::string>* positional) {
  for (auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->IsRetired()) continue;
    const std::string env_name = EnvNameForFlag(name);
    const std::string value = env(env_name);
    if (value.empty()) continue;
    if (absl::Status s = SetFlag(*flag, value, env_name); !s.ok()) return s;
  }
  positional->clear();
  if (!args.empty()) positional->push_back(args[0]);
  bool flags_done = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !absl::StartsWith(arg, "-") || arg == "-") {
      positional->push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view body = arg;
    body.remove_prefix(absl::StartsWith(body, "--") ? 2 : 1);
    absl::string_view name = body;
    std::optional<absl::string_view> value;  // NOLINT
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    }
    // `--platform-key` and `--platform_key` name the same flag.
    std::string normalized(name);
    std::replace(normalized.begin(), normalized.end(), '-', '_');
    name = normalized;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        if (absl::Status s = SetFlag(*negated, "false", "command line"); !s.ok()) return s;
        continue;
      }
    }
    if (flag == nullptr || flag->IsRetired()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("missing value for --", name));
      }
    }
    if (absl::Status s = SetFlag(*flag, *value, "command line"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  std::vector<std::string> args(argv, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-help" || arg == "--helpfull" || arg == "-h") {
      // Abseil prints every flag with its default and exits. (Its plain --help shows only
      // flags defined in a file named like the program, which none of ours are.)
      char help[] = "--helpfull";
      char* help_argv[] = {argv[0], help};
      absl::ParseCommandLine(2, help_argv);
    }
  }
  std::vector<std::string> positional;
  if (absl::Status s = ParseFlagsInto(args, &GetEnv, &positional); !s.ok()) {
    ExitBadConfig(argc > 0 ? argv[0] : "tally", s);
  }
  return positional;
}

void ExitBadConfig(absl::string_view program, const absl::Status& status) {
  if (size_t slash = program.rfind('/'); slash != absl::string_view::npos) {
    program.remove_prefix(slash + 1);
  }
  std::cerr << program << ": invalid configuration: " << status.message() << std::endl;
  std::exit(2);
}

}  // namespace tally
