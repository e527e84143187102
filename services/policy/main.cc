// tally-policy: directories, their authentication settings and the audit trail (DESIGN.md §1).
// Wiring only: the logic is PolicyManager.

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/redis_revocation_store.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "common/postgres/pg_flags.h"
#include "common/server/call_auth.h"
#include "common/server/server_runner.h"
#include "services/policy/pg_policy_store.h"
#include "services/policy/policy_manager.h"
#include "services/policy/policy_service.h"

ABSL_FLAG(std::string, postgres_schema, "policy", "Schema this service owns and migrates.");
ABSL_FLAG(std::string, redis_url, "",
          "Redis where the orchestrator records revoked sessions, redis://[[user]:password@]host"
          "[:port][/db] (prefer TALLY_REDIS_URL). Every bearer token is checked there; when Redis "
          "cannot be reached, token calls get UNAVAILABLE (platform-key and cluster calls need no "
          "Redis). Empty: revoked tokens are accepted until they expire (a warning at start-up).");

namespace {

constexpr int kDefaultPort = 50051;

}  // namespace

int main(int argc, char** argv) {
  tally::BlockTerminationSignals();
  tally::DisableMutexDeadlockDetection();
  tally::IgnoreSigpipe();
  tally::ParseFlags(argc, argv, "tally-policy: directories and authentication settings");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  auto logger = tally::GetLogger("policy");

  absl::StatusOr<tally::ServerOptions> server_options = tally::ServerOptionsFromFlags(kDefaultPort);
  if (!server_options.ok()) tally::ExitBadConfig(argv[0], server_options.status());
  const tally::Clock& clock = tally::SystemClock::Get();
  absl::StatusOr<std::shared_ptr<const tally::RevocationChecker>> revocations =
      tally::RevocationCheckerFromUrl(absl::GetFlag(FLAGS_redis_url), "tally-policy", clock);
  if (!revocations.ok()) {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError(
                               absl::StrCat("--redis_url: ", revocations.status().message())));
  }
  auto authenticator = tally::AuthenticatorFromFlags(clock, *revocations);
  if (!authenticator.ok()) tally::ExitBadConfig(argv[0], authenticator.status());
  absl::StatusOr<tally::PgOptions> pg_options = tally::PgOptionsFromFlags();
  if (!pg_options.ok()) tally::ExitBadConfig(argv[0], pg_options.status());
  if (absl::GetFlag(FLAGS_platform_key).empty()) {
    logger->warn("no --platform_key: platform calls (CreateDirectory...) will be refused");
  }

  auto pool = std::make_shared<tally::PgPool>(*pg_options);
  tally::policy::PgPolicyStore store(pool, absl::GetFlag(FLAGS_postgres_schema));
  if (absl::Status s = tally::MigrateAtStartup([&store] { return store.Migrate(); }, *logger);
      !s.ok()) {
    logger->critical("cannot migrate schema {}: {}", absl::GetFlag(FLAGS_postgres_schema), s);
    return 1;
  }

  tally::policy::PolicyManager manager(store, clock, tally::CsprngRandom::Get());
  tally::policy::DirectoryServiceImpl directory_service(manager, *authenticator);
  tally::policy::PolicyServiceImpl policy_service(manager, *authenticator);

  tally::ServerRunner runner(*server_options, tally::GetLogger("server"));
  runner.AddService(&directory_service);
  runner.AddService(&policy_service);
  runner.AddHealthCheck("postgres", [&store] { return store.Ping(); });
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger->critical("{}", s);
    return 1;
  }
  runner.RunUntilSignal();
  return 0;
}
