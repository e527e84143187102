#include "tools/tallyctl/command.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include <grpcpp/create_channel.h>

#include "absl/strings/match.h"
#include "common/server/tls.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace tally::cli {
namespace {

constexpr char kUsageMarker[] = " (see tallyctl --help)";

}  // namespace

std::shared_ptr<grpc::Channel> CommandContext::Channel(int default_port) const {
  const std::string addr =
      options_.addr.empty() ? absl::StrCat("127.0.0.1:", default_port) : options_.addr;
  // Mutual TLS with --tls_cert/--tls_key/--tls_ca (TALLY_TLS_*), like the services.
  absl::StatusOr<TlsFiles> tls = TlsFilesFromFlags();
  return grpc::CreateChannel(addr, MakeChannelCredentials(tls.ok() ? *tls : TlsFiles()));
}

void CommandContext::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(options_.timeout));
  if (!options_.platform_key.empty()) {
    context.AddMetadata("x-tally-platform-key", options_.platform_key);
  }
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

void CommandContext::PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out_ << json;
}

absl::StatusOr<std::string> Ask(const std::string& prompt, bool secret) {
  std::cerr << prompt << std::flush;
  const bool tty = isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (secret && tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  const bool read = static_cast<bool>(std::getline(std::cin, line));
  if (secret && tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!read) return absl::CancelledError("no more input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

absl::Status UsageError(const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(why, kUsageMarker));
}

bool IsUsageError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         absl::EndsWith(status.message(), kUsageMarker);
}

absl::Status CommandRegistry::Run(const CliOptions& options, const std::vector<std::string>& args,
                                  std::ostream& out) const {
  if (args.empty()) return UsageError("no command");
  for (const Command& command : commands_) {
    if (command.group != args[0]) continue;
    size_t skip = 1;
    if (!command.verb.empty()) {
      if (args.size() < 2 || args[1] != command.verb) continue;
      skip = 2;
    }
    const size_t n = args.size() - skip;
    if (n < command.min_args || n > command.max_args) {
      return UsageError(absl::StrCat("usage: tallyctl ", command.usage));
    }
    CommandContext context(options, std::vector<std::string>(args.begin() + skip, args.end()),
                           out);
    return command.run(context);
  }
  return UsageError(absl::StrCat("unknown command '", absl::StrJoin(args, " "), "'"));
}

std::string CommandRegistry::Usage() const {
  std::string usage = "tallyctl: operate a Tally cluster.\n\n";
  for (const Command& command : commands_) absl::StrAppend(&usage, "  tallyctl ", command.usage, "\n");
  return usage;
}

}  // namespace tally::cli
