// tally-orchestrator: logins that add up points, session tokens, step-up and lockout
// (DESIGN.md §1, §4; issue 6). Wiring only: the flags are OrchestratorServerConfig, the logic is
// LoginManager and SessionManager.

#include <memory>

#include "common/auth/redis_revocation_store.h"
#include "common/logging/logging.h"
#include "common/server/peer_channel.h"
#include "common/server/service_main.h"
#include "services/orchestrator/cluster_peers.h"
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

  orch::ClusterPeers peers(config.peers, tally::PeerChannels(config.server.tls), clock);

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
  orch::LoginManager manager(logins, lockouts, peers.policy, peers.credential, peers.otp,
                             peers.passkey, sessions, clock, service.random(), config.login,
                             &metrics, &start_limiter);
  orch::UserLockout user_lockout(peers.credential_service, lockouts, &metrics);
  orch::LoginServiceImpl login_service(manager, user_lockout, authenticator);
  orch::UserSessions user_sessions(peers.credential_service, *revocations, clock);
  orch::UserDevices user_devices(peers.credential_service, peers.policy);
  orch::SessionServiceImpl session_service(sessions, user_sessions, user_devices, authenticator);
  runner.AddService(&login_service);
  runner.AddService(&session_service);
  runner.AddHealthCheck("redis", [redis] { return redis->Ping(); });
  return service.Serve(runner, [&] {
    service.logger().info("signing with {} key(s); peers {}", config.signing_key_files.size(),
                          config.peers.Describe());
  });
}
