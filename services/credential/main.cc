// tally-credential: users, roles, contact data and Argon2id password hashes, authenticator
// apps, recovery codes and remembered devices. Wiring only: the flags are
// CredentialServerConfig, the logic is CredentialManager, TotpManager, RecoveryCodeManager and
// DeviceManager.

#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/otp/otp_peer.h"
#include "common/policy/directory_source.h"
#include "common/postgres/pg_flags.h"
#include "common/server/peer_channel.h"
#include "common/server/service_main.h"
#include "services/credential/credential_callers.h"
#include "services/credential/credential_config.h"
#include "services/credential/credential_manager.h"
#include "services/credential/credential_metrics.h"
#include "services/credential/credential_service.h"
#include "services/credential/device_manager.h"
#include "services/credential/factor_guard.h"
#include "services/credential/password_hashing.h"
#include "services/credential/pg_credential_store.h"
#include "services/credential/pg_device_store.h"
#include "services/credential/pg_factor_store.h"
#include "services/credential/recovery_code_manager.h"
#include "services/credential/totp_manager.h"

int main(int argc, char** argv) {
  namespace cred = tally::credential;
  tally::ServiceMain service(
      argc, argv, "tally-credential: users, contact data and password hashes", "credential");
  cred::CredentialServerConfig config =
      service.RequireConfig(cred::CredentialServerConfigFromFlags());
  // Also where this service ends a user's sessions (password, role and deletion changes).
  auto revocations = tally::RevocationStoreFor(config.revocation_redis, service.clock());
  auto authenticator = service.MakeAuthenticator(revocations, cred::CredentialCallers(),
                                                 "CreateUser to bootstrap");
  if (config.blocklist_file.empty()) {
    service.logger().warn("no --password_blocklist: common passwords are accepted");
  } else {
    service.logger().info("password blocklist: {} entries", config.blocklist.size());
  }
  auto store = service.RequireStarted(tally::MigratedPgStore<cred::PgCredentialStore>(
      config.postgres, config.postgres_schema, service.logger()));

  tally::ServerRunner runner(config.server, tally::GetLogger("server"));
  cred::CredentialMetrics metrics(runner.metrics().registry());
  auto hashing = service.RequireStarted(
      cred::PasswordHashing::Create(config.hashing, service.random(), metrics),
      "cannot hash with these Argon2id parameters");
  service.logger().info("{}", hashing->Describe());
  const cred::PasswordPolicy policy(config.password_rules, std::move(config.blocklist));
  const tally::PeerChannels peers(config.server.tls);
  tally::PolicyDirectorySource directories(peers.To(config.policy_addr), config.policy_timeout);
  tally::GrpcOtpPeer otp(tally::otp::v1::OtpService::NewStub(peers.To(config.otp_addr)),
                         tally::PeerCallOptions{.timeout = config.otp_timeout});
  cred::PgFactorStore factor_store(store->pool(), store->schema());
  cred::CredentialManager manager(*store, hashing->hasher(), policy, metrics, service.clock(),
                                  service.random(),
                                  {*revocations, otp, directories, factor_store, config.account});
  cred::PgDeviceStore device_store(store->pool(), store->schema());
  cred::FactorGuard guard(*store, factor_store, directories, service.clock(), config.factors);
  cred::TotpManager totp(guard, factor_store, *store, directories, service.random(),
                         config.totp);
  cred::RecoveryCodeManager recovery_codes(guard, factor_store, service.random(),
                                           config.recovery_code_hmac_key);
  cred::DeviceManager devices(device_store, service.clock(), service.random());
  cred::CredentialServiceImpl credential_service(manager, {totp, recovery_codes, devices},
                                                 authenticator);
  runner.AddService(&credential_service);
  runner.AddHealthCheck("postgres", [&store] { return store->Ping(); });
  return service.Serve(runner);
}
