// tally-passkey: WebAuthn registration and authentication, stored passkeys (DESIGN.md §2).
// Wiring only: the flags are PasskeyServerConfig, the logic is PasskeyManager, the WebAuthn
// checks are services/passkey/webauthn.

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/policy/directory_source.h"
#include "common/postgres/pg_flags.h"
#include "common/server/peer_channel.h"
#include "common/server/service_main.h"
#include "services/passkey/passkey_callers.h"
#include "services/passkey/passkey_config.h"
#include "services/passkey/passkey_manager.h"
#include "services/passkey/passkey_metrics.h"
#include "services/passkey/passkey_service.h"
#include "services/passkey/pg_passkey_store.h"
#include "services/passkey/redis_challenge_store.h"

int main(int argc, char** argv) {
  namespace passkey = tally::passkey;
  tally::ServiceMain service(argc, argv, "tally-passkey: WebAuthn passkeys", "passkey");
  const passkey::PasskeyServerConfig config =
      service.RequireConfig(passkey::PasskeyServerConfigFromFlags());
  // Never connects here. Revoked sessions are checked in this Redis too.
  auto redis = std::make_shared<tally::RedisClient>(config.redis);
  auto authenticator = service.MakeAuthenticator(
      std::make_shared<const tally::RedisRevocationStore>(redis, service.clock()),
      passkey::PasskeyCallers());
  auto store = service.RequireStarted(tally::MigratedPgStore<passkey::PgPasskeyStore>(
      config.postgres, config.postgres_schema, service.logger()));
  passkey::RedisChallengeStore challenges(redis);
  tally::PolicyDirectorySource levels(
      tally::PeerChannels(config.server.tls).To(config.policy_addr), config.policy_timeout);

  tally::ServerRunner runner(config.server, tally::GetLogger("server"));
  passkey::PrometheusCeremonyObserver observer(runner.metrics().registry());
  passkey::PasskeyManager manager(*store, challenges, levels, service.clock(), service.random(),
                                  config.passkey, &observer);
  passkey::PasskeyServiceImpl passkey_service(manager, authenticator);
  runner.AddService(&passkey_service);
  runner.AddHealthCheck("postgres", [&store] { return store->Ping(); });
  runner.AddHealthCheck("redis", [&challenges] { return challenges.Ping(); });
  const tally::passkey::RpConfig& rp = config.passkey.default_rp;
  service.logger().info(
      "relying party {} ({}), origins {}, user verification {}, attestation {}", rp.rp_id,
      rp.rp_name, absl::StrJoin(rp.origins, ","), rp.user_verification,
      config.passkey.require_attestation
          ? absl::StrCat("required (", config.passkey.allowed_aaguids.size(), " models)")
      : config.passkey.trust_anchors != nullptr ? std::string("checked when x5c")
                                                : std::string("not checked"));
  return service.Serve(runner);
}
