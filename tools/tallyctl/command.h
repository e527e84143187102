#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Message;
}

namespace tally::cli {

struct CliOptions {
  std::string addr;          // empty: the command's service on 127.0.0.1 and its default port
  std::string platform_key;  // sent as x-tally-platform-key
  std::string token;         // sent as authorization: Bearer
  bool json = false;         // machine-readable output
  absl::Duration timeout = absl::Seconds(10);
};

// What a command gets: the common options, its positional arguments (after "group verb") and
// where to print. Command-specific options are Abseil flags defined beside the command.
class CommandContext {
 public:
  CommandContext(const CliOptions& options, std::vector<std::string> args, std::ostream& out)
      : options_(options), args_(std::move(args)), out_(out) {}

  const CliOptions& options() const { return options_; }
  const std::vector<std::string>& args() const { return args_; }
  std::ostream& out() { return out_; }

  // A channel to --addr, or to 127.0.0.1:<default_port>.
  std::shared_ptr<grpc::Channel> Channel(int default_port) const;
  // Deadline and credentials for one call.
  void Prepare(grpc::ClientContext& context) const;
  // Prints `message` as JSON (field names as in the .proto).
  void PrintJson(const google::protobuf::Message& message);

 private:
  const CliOptions& options_;
  std::vector<std::string> args_;
  std::ostream& out_;
};

struct Command {
  std::string group;  // "directory"
  std::string verb;   // "create"; empty when the group is the whole command ("jwks")
  std::string usage;  // one line: "directory create --name NAME --tier TIER"
  size_t min_args = 0;
  size_t max_args = 0;
  std::function<absl::Status(CommandContext&)> run;
};

class CommandRegistry {
 public:
  void Add(Command command) { commands_.push_back(std::move(command)); }
  const std::vector<Command>& commands() const { return commands_; }
  // Finds and runs the command of `args` ("group verb rest...").
  absl::Status Run(const CliOptions& options, const std::vector<std::string>& args,
                   std::ostream& out) const;
  // "tallyctl: ..." and one line per command; --help adds the flags (HelpText).
  std::string Usage() const;

 private:
  std::vector<Command> commands_;
};

// One line from standard input; with `secret` and a terminal, without echo. Prompts go to
// stderr so stdout stays the result. CANCELLED at the end of input.
absl::StatusOr<std::string> Ask(const std::string& prompt, bool secret);

// INVALID_ARGUMENT that main turns into exit code 2 with a pointer to --help.
absl::Status UsageError(const std::string& why);
bool IsUsageError(const absl::Status& status);

// Every command group registers here; see commands.cc.
void RegisterAllCommands(CommandRegistry& registry);

}  // namespace tally::cli
