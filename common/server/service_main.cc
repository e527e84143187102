#include "common/server/service_main.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "common/logging/logging.h"
#include "common/server/call_auth.h"

namespace tally {

ServiceMain::ServiceMain(int argc, char** argv, absl::string_view usage,
                         absl::string_view component)
    : program_(argc > 0 ? argv[0] : "tally") {
  // Before any thread starts, so that every thread inherits the blocked signals.
  BlockTerminationSignals();
  DisableMutexDeadlockDetection();
  IgnoreSigpipe();
  ParseFlags(argc, argv, usage);
  if (absl::Status s = InitLoggingFromFlags(); !s.ok()) ExitBadConfig(program_, s);
  logger_ = GetLogger(component);
}

std::shared_ptr<const Authenticator> ServiceMain::MakeAuthenticator(
    std::shared_ptr<const RevocationChecker> revocations, ClusterCallers cluster_callers,
    absl::string_view platform_calls, std::shared_ptr<const TokenVerifier> own_keys) const {
  std::shared_ptr<const Authenticator> authenticator =
      RequireConfig(AuthenticatorFromFlags(clock(), std::move(revocations),
                                           std::move(cluster_callers), std::move(own_keys)));
  if (!platform_calls.empty() && absl::GetFlag(FLAGS_platform_key).empty()) {
    logger_->warn("no --platform_key: platform calls ({}) will be refused", platform_calls);
  }
  return authenticator;
}

int ServiceMain::Serve(ServerRunner& runner, absl::FunctionRef<void()> started) const {
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger_->critical("{}", s);
    return 1;
  }
  started();
  runner.RunUntilSignal();
  return 0;
}

void ServiceMain::ExitStartFailed(absl::string_view what, const absl::Status& status) const {
  if (what.empty()) {
    logger_->critical("{}", status);
  } else {
    logger_->critical("{}: {}", what, status);
  }
  std::exit(1);
}

}  // namespace tally
