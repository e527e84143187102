#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/caller.h"
#include "common/config/config.h"
#include "common/server/server_runner.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "spdlog/logger.h"

namespace tally {

// What every Tally server's main() does around its own wiring: process set-up, flags, logging,
// the two ways start-up ends early, the authenticator and serving until SIGTERM. A main reads
// its typed configuration (services/<svc>/<svc>_config.h) through RequireConfig, builds its
// stores and logic, and returns Serve(runner).
class ServiceMain {
 public:
  // Blocks SIGTERM and SIGINT (Serve waits for them), turns off Abseil's deadlock detection,
  // ignores SIGPIPE, parses the flags (each --foo_bar also from TALLY_FOO_BAR; --help lists
  // them) and starts logging (--log_format, --log_level). `usage` starts with the program's
  // name; `component` names the logger of main ("policy").
  ServiceMain(int argc, char** argv, absl::string_view usage, absl::string_view component);

  // `config`, or the end of the process for bad configuration: one line
  // "<program>: invalid configuration: <why>" on stderr and exit code 2. The only way a
  // service refuses its configuration.
  template <typename T>
  T RequireConfig(absl::StatusOr<T> config) const {
    if (!config.ok()) ExitBadConfig(program_, config.status());
    return *std::move(config);
  }

  // `started`, or the end of the process for a start-up step that failed with a good
  // configuration (a schema that cannot be migrated): "<what>: <status>" logged as critical,
  // exit code 1.
  template <typename T>
  T RequireStarted(absl::StatusOr<T> started, absl::string_view what = "") const {
    if (!started.ok()) ExitStartFailed(what, started.status());
    return *std::move(started);
  }

  spdlog::logger& logger() const { return *logger_; }
  const Clock& clock() const { return SystemClock::Get(); }
  RandomSource& random() const { return CsprngRandom::Get(); }

  // The Authenticator of the shared flags --platform_key, --jwks_file, --jwt_issuer and
  // --reauth_max_age (AuthenticatorFromFlags), checking bearer tokens' revocation in
  // `revocations` (required with --jwks_file) and cluster calls against the service's table
  // (services/<svc>/<svc>_callers.h); bad flags or a table with a gap end the process
  // (RequireConfig). `platform_calls` names what the platform key is for in this service
  // ("CreateDirectory..."): without the key a warning says those calls are refused.
  // The orchestrator passes `own_keys` (it verifies with the keys it signs with).
  std::shared_ptr<const Authenticator> MakeAuthenticator(
      std::shared_ptr<const RevocationChecker> revocations, ClusterCallers cluster_callers,
      absl::string_view platform_calls = "",
      std::shared_ptr<const TokenVerifier> own_keys = nullptr) const;

  // Starts `runner`, then `started` (work beside the gRPC server, such as the OTP senders),
  // serves until SIGTERM or SIGINT and drains. main's exit code: 0 after the drain, 1 (logged as
  // critical) when the server cannot start.
  int Serve(ServerRunner& runner, absl::FunctionRef<void()> started = [] {}) const;

 private:
  [[noreturn]] void ExitStartFailed(absl::string_view what, const absl::Status& status) const;

  std::string program_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace tally
