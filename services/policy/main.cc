// tally-policy: directories, their authentication settings and the audit trail (DESIGN.md §1).
// Wiring only: the flags are PolicyServerConfig, the logic is PolicyManager.

#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/postgres/pg_flags.h"
#include "common/server/service_main.h"
#include "services/policy/pg_policy_store.h"
#include "services/policy/policy_callers.h"
#include "services/policy/policy_config.h"
#include "services/policy/policy_manager.h"
#include "services/policy/policy_service.h"
#include "services/policy/settings_gauges.h"

int main(int argc, char** argv) {
  namespace policy = tally::policy;
  tally::ServiceMain service(argc, argv, "tally-policy: directories and authentication settings",
                             "policy");
  const policy::PolicyServerConfig config =
      service.RequireConfig(policy::PolicyServerConfigFromFlags());
  auto authenticator = service.MakeAuthenticator(
      tally::RevocationStoreFor(config.revocation_redis, service.clock()), policy::PolicyCallers(),
      "CreateDirectory...");
  auto store = service.RequireStarted(tally::MigratedPgStore<policy::PgPolicyStore>(
      config.postgres, config.postgres_schema, service.logger()));

  policy::PolicyManager manager(*store, service.clock(), service.random());
  policy::DirectoryServiceImpl directory_service(manager, authenticator);
  policy::PolicyServiceImpl policy_service(manager, authenticator);
  tally::ServerRunner runner(config.server, tally::GetLogger("server"));
  runner.AddService(&directory_service);
  runner.AddService(&policy_service);
  runner.AddHealthCheck("postgres", [&store] { return store->Ping(); });
  policy::SettingsGauges gauges(*store, runner.metrics().registry());
  gauges.Start(config.settings_metrics_interval);
  return service.Serve(runner);
}
