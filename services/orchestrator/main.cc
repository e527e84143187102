// tally-orchestrator: logins that add up points, session tokens, step-up and lockout
// (DESIGN.md §1, §4; issue 6). Wiring only: the flags are OrchestratorServerConfig, the logic is
// LoginManager and SessionManager.

#include <memory>
#include <string>

#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/server/peer_channel.h"
#include "common/server/service_main.h"
#include "services/orchestrator/grpc_peers.h"
#include "services/orchestrator/login_manager.h"
#include "services/orchestrator/login_metrics.h"
#include "services/orchestrator/orchestrator_callers.h"
#include "services/orchestrator/orchestrator_config.h"
#include "services/orchestrator/orchestrator_service.h"
#include "services/orchestrator/redis_login_store.h"
#include "services/orchestrator/session_manager.h"

int main(int argc, char** argv) {
  namespace orch = tally::orchestrator;
  tally::ServiceMain service(argc, argv,
                             "tally-orchestrator: logins, sessions, step-up and lockout",
                             "orchestrator");
  const orch::OrchestratorServerConfig config =
      service.RequireConfig(orch::OrchestratorServerConfigFromFlags(service.clock()));
  const auto& clock = service.clock();

  // The same mutual TLS files as the server side (plaintext when none are configured).
  const auto credentials = tally::MakeChannelCredentials(config.server.tls);
  auto channel = [&](const std::string& target) {
    return tally::MakePeerChannel(target, credentials);
  };
  orch::GrpcPolicyPeer policy_peer(
      tally::policy::v1::PolicyService::NewStub(channel(config.policy_addr)), config.peer_calls);
  orch::CachingPolicyPeer policy(policy_peer, clock, config.settings_cache_ttl);
  orch::GrpcCredentialPeer credential_peer(
      tally::credential::v1::CredentialService::NewStub(channel(config.credential_addr)),
      config.peer_calls);
  orch::StaleUserCredentialPeer credential(credential_peer, clock, config.user_max_stale);
  orch::GrpcOtpPeer otp(tally::otp::v1::OtpService::NewStub(channel(config.otp_addr)),
                        config.peer_calls);
  orch::GrpcPasskeyPeer passkey(
      tally::passkey::v1::PasskeyService::NewStub(channel(config.passkey_addr)),
      config.peer_calls);

  auto redis = std::make_shared<tally::RedisClient>(config.redis);
  orch::RedisLoginStore logins(redis);
  orch::RedisLockoutStore lockouts(redis, config.lockout, service.random());
  auto revocations = std::make_shared<tally::RedisRevocationStore>(redis, clock);
  orch::SessionManager sessions(config.signing_keys, *revocations, clock, service.random(),
                                config.session_lifetime);
  // Tokens presented here are verified with the keys this service signs with.
  auto authenticator = service.MakeAuthenticator(
      revocations, orch::OrchestratorCallers(), "UnlockUser",
      std::shared_ptr<const tally::TokenVerifier>(config.signing_keys,
                                                  &config.signing_keys->verifier()));

  tally::ServerRunner runner(config.server, tally::GetLogger("server"));
  orch::LoginMetrics metrics(runner.metrics().registry());
  orch::RedisStartLimiter start_limiter(redis, config.start_limits);
  orch::LoginManager manager(logins, lockouts, policy, credential, otp, passkey, sessions, clock,
                             service.random(), config.login, &metrics, &start_limiter);
  orch::UserLockout user_lockout(credential_peer, lockouts, &metrics);
  orch::LoginServiceImpl login_service(manager, user_lockout, authenticator);
  orch::UserSessions user_sessions(credential_peer, *revocations, clock);
  orch::UserDevices user_devices(credential_peer, policy);
  orch::SessionServiceImpl session_service(sessions, user_sessions, user_devices, authenticator);
  runner.AddService(&login_service);
  runner.AddService(&session_service);
  runner.AddHealthCheck("redis", [redis] { return redis->Ping(); });
  return service.Serve(runner, [&] {
    service.logger().info("signing with {} key(s); peers policy={} credential={} otp={} passkey={}",
                          config.signing_key_files.size(), config.policy_addr,
                          config.credential_addr, config.otp_addr, config.passkey_addr);
  });
}
