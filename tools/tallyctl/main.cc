// tallyctl: the operator CLI. Wiring only: flags in, the command registry runs the command.

#include <iostream>

#include "absl/flags/flag.h"
#include "common/config/config.h"
#include "common/server/tls.h"
#include "common/status/error_details.h"
#include "tools/tallyctl/command.h"

ABSL_FLAG(std::string, addr, "", "Service address host:port (default: 127.0.0.1 and its port).");
ABSL_FLAG(std::string, platform_key, "", "Platform key (TALLY_PLATFORM_KEY).");
ABSL_FLAG(std::string, token, "", "Session token of an admin or user (TALLY_TOKEN).");
ABSL_FLAG(bool, json, false, "Print JSON instead of text.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each call.");

int main(int argc, char** argv) {
  tally::cli::CommandRegistry registry;
  tally::cli::RegisterAllCommands(registry);
  const std::string usage = registry.Usage();
  std::vector<std::string> args = tally::ParseFlags(argc, argv, usage);
  args.erase(args.begin());  // argv[0]
  if (args.empty()) {
    std::cout << usage << "\nFlags: tallyctl --help\n";
    return 2;
  }
  if (args[0] == "help") {
    std::cout << tally::HelpText(usage);
    return 0;
  }
  // Checked here so a typo in a TLS flag fails loudly instead of falling back to plaintext.
  if (absl::StatusOr<tally::TlsFiles> tls = tally::TlsFilesFromFlags(); !tls.ok()) {
    tally::ExitBadConfig(argv[0], tls.status());
  }
  tally::cli::CliOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.platform_key = absl::GetFlag(FLAGS_platform_key);
  options.token = absl::GetFlag(FLAGS_token);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);

  const absl::Status status = registry.Run(options, args, std::cout);
  if (!status.ok()) {
    std::cerr << "tallyctl: " << absl::StatusCodeToString(status.code()) << ": "
              << status.message();
    // The reason and field a script can act on (API.md "Errors carry details").
    if (const std::string details = tally::DetailsText(status); !details.empty()) {
      std::cerr << " (" << details << ")";
    }
    std::cerr << std::endl;
    return tally::cli::IsUsageError(status) ? 2 : 1;
  }
  return 0;
}
