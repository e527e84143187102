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
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

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

absl::Status ParseFlagsForTest(std::vector<std::string> args) {
  args.insert(args.begin(), "test");
  std::vector<std::string> positional;
  return ParseFlagsInto(
      args, [](const std::string&) { return std::string(); }, &positional);
}

std::string HelpText(absl::string_view usage) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    // Abseil's own (--flagfile, --fromenv...) do nothing useful here: ParseFlags never reads them.
    if (!flag->IsRetired() && !absl::StrContains(flag->Filename(), "absl/")) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](const auto* a, const auto* b) {
    return a->Name() < b->Name();
  });
  std::string text(usage);
  if (!absl::EndsWith(text, "\n")) text += "\n";
  absl::StrAppend(&text, "\nFlags (each --foo_bar also reads TALLY_FOO_BAR from the environment; "
                         "the command line wins):\n");
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(&text, "  --", flag->Name(),
                    default_value.empty() ? "" : absl::StrCat(" (default ", default_value, ")"),
                    "\n");
    // The help, word-wrapped below the name.
    std::string line = "     ";
    for (absl::string_view word : absl::StrSplit(flag->Help(), ' ', absl::SkipEmpty())) {
      if (line.size() + 1 + word.size() > 100 && line.size() > 5) {
        absl::StrAppend(&text, line, "\n");
        line = "     ";
      }
      absl::StrAppend(&line, " ", word);
    }
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage) {
  const absl::string_view program = argc > 0 ? absl::string_view(argv[0]) : "tally";
  // Abseil's listing starts "<program>: <usage message>"; ours already begins with the name.
  absl::string_view basename = program;
  if (size_t slash = program.rfind('/'); slash != absl::string_view::npos) {
    basename.remove_prefix(slash + 1);
  }
  absl::SetProgramUsageMessage(absl::StripPrefix(usage, absl::StrCat(basename, ": ")));
  std::vector<std::string> args(argv, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "--helpfull" || arg == "-helpfull") {
      char help[] = "--helpfull";
      char* help_argv[] = {argv[0], help};
      absl::ParseCommandLine(2, help_argv);  // prints every flag and exits
    }
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      std::cout << HelpText(usage);
      std::exit(0);
    }
  }
  std::vector<std::string> positional;
  if (absl::Status s = ParseFlagsInto(args, &GetEnv, &positional); !s.ok()) {
    ExitBadConfig(program, s);
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
