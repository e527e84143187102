#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tally::cli {

struct CliOptions {
  std::string addr;          // empty: the default port of the command's service on 127.0.0.1
  std::string platform_key;  // sent as x-tally-platform-key
  std::string token;         // sent as authorization: Bearer
  bool json = false;         // machine-readable output
  absl::Duration timeout = absl::Seconds(10);
};

// Flags of `settings set`; -1 leaves a value as it is.
struct SettingsChange {
  int required_level = -1;
  int password = -1;
  int sms = -1;
  int email = -1;
  int passkey = -1;
  std::string etag;  // empty: the etag just read, so a concurrent change is detected
};

// One operator command line, minus the flags: {"directory", "create"} and so on. Output goes to
// `out`; errors come back as a Status for main to print. Opens its own channel, or uses
// `channel` when given (tests).
class Tallyctl {
 public:
  Tallyctl(CliOptions options, std::ostream& out);

  absl::Status Run(const std::vector<std::string>& args, const std::string& name,
                   const std::string& tier, int page_size, const SettingsChange& change);

  static const char* Usage();

 private:
  std::shared_ptr<grpc::Channel> Channel(int default_port);
  void Authorize(class grpc::ClientContext& context) const;

  absl::Status DirectoryCreate(const std::string& name, const std::string& tier);
  absl::Status DirectoryGet(const std::string& id);
  absl::Status DirectoryList(int page_size);
  absl::Status SettingsGet(const std::string& directory_id);
  absl::Status SettingsSet(const std::string& directory_id, const SettingsChange& change);
  absl::Status SettingsAudit(const std::string& directory_id, int page_size);
  absl::Status Jwks(const std::vector<std::string>& pem_files);

  CliOptions options_;
  std::ostream& out_;
};

}  // namespace tally::cli
