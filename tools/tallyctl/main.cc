// tallyctl: the operator CLI. Wiring only: flags in, Tallyctl out.

#include <iostream>

#include "absl/flags/flag.h"
#include "common/config/config.h"
#include "tools/tallyctl/tallyctl.h"

ABSL_FLAG(std::string, addr, "", "Service address host:port (default: 127.0.0.1 and its port).");
ABSL_FLAG(std::string, platform_key, "", "Platform key (TALLY_PLATFORM_KEY).");
ABSL_FLAG(std::string, token, "", "Session token of an admin (TALLY_TOKEN).");
ABSL_FLAG(bool, json, false, "Print JSON instead of text.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each call.");
ABSL_FLAG(std::string, name, "", "directory create: display name.");
ABSL_FLAG(std::string, tier, "", "directory create: freemium, explorer, professional, enterprise.");
ABSL_FLAG(int, page_size, 0, "Items per page (0: the server's default).");
ABSL_FLAG(int, required_level, -1, "settings set: points a login needs.");
ABSL_FLAG(int, password, -1, "settings set: points for a password.");
ABSL_FLAG(int, sms, -1, "settings set: points for an SMS code (0 disables).");
ABSL_FLAG(int, email, -1, "settings set: points for an email code (0 disables).");
ABSL_FLAG(int, passkey, -1, "settings set: points for a passkey (0 disables).");
ABSL_FLAG(std::string, etag, "", "settings set: only update if the settings still have this etag.");

int main(int argc, char** argv) {
  std::vector<std::string> args = tally::ParseFlags(argc, argv, tally::cli::Tallyctl::Usage());
  args.erase(args.begin());  // argv[0]
  if (args.empty() || args[0] == "help") {
    std::cout << tally::cli::Tallyctl::Usage() << std::endl;
    return args.empty() ? 2 : 0;
  }
  tally::cli::CliOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.platform_key = absl::GetFlag(FLAGS_platform_key);
  options.token = absl::GetFlag(FLAGS_token);
  options.json = absl::GetFlag(FLAGS_json);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  tally::cli::SettingsChange change;
  change.required_level = absl::GetFlag(FLAGS_required_level);
  change.password = absl::GetFlag(FLAGS_password);
  change.sms = absl::GetFlag(FLAGS_sms);
  change.email = absl::GetFlag(FLAGS_email);
  change.passkey = absl::GetFlag(FLAGS_passkey);
  change.etag = absl::GetFlag(FLAGS_etag);

  tally::cli::Tallyctl cli(options, std::cout);
  absl::Status status = cli.Run(args, absl::GetFlag(FLAGS_name), absl::GetFlag(FLAGS_tier),
                                absl::GetFlag(FLAGS_page_size), change);
  if (!status.ok()) {
    std::cerr << "tallyctl: " << absl::StatusCodeToString(status.code()) << ": "
              << status.message() << std::endl;
    return status.code() == absl::StatusCode::kInvalidArgument &&
                   status.message().find("tallyctl --help") != absl::string_view::npos
               ? 2
               : 1;
  }
  return 0;
}
