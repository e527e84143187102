// tally-orchestrator: logins that add up points, session tokens, step-up and lockout
// (DESIGN.md §1, §4; issue 6). Wiring only: the logic is LoginManager and SessionManager.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/redis_revocation_store.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "common/redis/redis_client.h"
#include "common/server/peer_channel.h"
#include "common/server/server_runner.h"
#include "common/server/tls.h"
#include "services/orchestrator/grpc_peers.h"
#include "services/orchestrator/login_manager.h"
#include "services/orchestrator/login_metrics.h"
#include "services/orchestrator/orchestrator_service.h"
#include "services/orchestrator/redis_login_store.h"
#include "services/orchestrator/session_manager.h"

ABSL_DECLARE_FLAG(std::string, jwt_issuer);

ABSL_FLAG(std::string, redis_url, "",
          "Redis for logins, lockout counters and revocations: redis://[[user]:password@]host"
          "[:port][/db]. Required.");
ABSL_FLAG(int, redis_pool_size, 16, "Redis connections at most.");
ABSL_FLAG(std::string, signing_key_files, "",
          "Comma-separated PEM files of Ed25519 private keys, newest first: the first signs, all "
          "are published by GetJwks. Required.");
ABSL_FLAG(absl::Duration, session_lifetime, absl::Hours(8), "Lifetime of session tokens.");
ABSL_FLAG(absl::Duration, login_ttl, absl::Minutes(10), "Lifetime of a login transaction.");
// Each may name several replicas (dns:///<headless service>:<port>, ipv4:a:p,b:p): calls are
// spread over them and skip any that is NOT_SERVING (common/server/peer_channel.h).
ABSL_FLAG(std::string, policy_addr, "127.0.0.1:50051", "Policy service gRPC target.");
ABSL_FLAG(std::string, credential_addr, "127.0.0.1:50052", "Credential service gRPC target.");
ABSL_FLAG(std::string, otp_addr, "127.0.0.1:50053", "OTP service gRPC target.");
ABSL_FLAG(std::string, passkey_addr, "127.0.0.1:50054", "Passkey service gRPC target.");
ABSL_FLAG(absl::Duration, peer_timeout, absl::Seconds(2),
          "Deadline of each call to another service (the caller's deadline may shorten it).");
ABSL_FLAG(int, peer_read_attempts, 3,
          "Tries of an idempotent read while a peer answers UNAVAILABLE.");
ABSL_FLAG(absl::Duration, user_max_stale, absl::Minutes(5),
          "While the credential service is unavailable, logins that check no password (passkey, "
          "OTP) use a user's roles and contact data as last seen up to this long ago. 0 disables.");
ABSL_FLAG(absl::Duration, settings_cache_ttl, absl::Seconds(2),
          "How long a directory's settings are cached; a change applies after at most this. "
          "0 disables the cache.");
ABSL_FLAG(int, lockout_threshold, 5, "Consecutive failures before a user is locked.");
ABSL_FLAG(absl::Duration, lockout_duration, absl::Minutes(1),
          "First lock; it doubles with each further failure.");
ABSL_FLAG(absl::Duration, lockout_max_duration, absl::Hours(1), "Longest lock.");
ABSL_FLAG(absl::Duration, lockout_forget_after, absl::Hours(24),
          "Failures older than this (without a running lock) are forgotten.");

namespace {

constexpr int kDefaultPort = 50050;

[[noreturn]] void Bad(const char* program, const std::string& why) {
  tally::ExitBadConfig(program, absl::InvalidArgumentError(why));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tally::orchestrator;
  tally::BlockTerminationSignals();
  tally::DisableMutexDeadlockDetection();
  tally::IgnoreSigpipe();
  tally::ParseFlags(argc, argv, "tally-orchestrator: logins, sessions, step-up and lockout");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  auto logger = tally::GetLogger("orchestrator");

  absl::StatusOr<tally::ServerOptions> server_options = tally::ServerOptionsFromFlags(kDefaultPort);
  if (!server_options.ok()) tally::ExitBadConfig(argv[0], server_options.status());
  const tally::Clock& clock = tally::SystemClock::Get();

  if (absl::GetFlag(FLAGS_redis_url).empty()) Bad(argv[0], "--redis_url is required");
  absl::StatusOr<tally::RedisOptions> redis_options =
      tally::ParseRedisUrl(absl::GetFlag(FLAGS_redis_url));
  if (!redis_options.ok()) tally::ExitBadConfig(argv[0], redis_options.status());
  redis_options->client_name = "tally-orchestrator";
  redis_options->pool_size = absl::GetFlag(FLAGS_redis_pool_size);
  if (redis_options->pool_size < 1) Bad(argv[0], "--redis_pool_size must be >= 1");

  std::vector<std::string> key_files =
      absl::StrSplit(absl::GetFlag(FLAGS_signing_key_files), ',', absl::SkipWhitespace());
  if (key_files.empty()) Bad(argv[0], "--signing_key_files is required");
  absl::StatusOr<std::shared_ptr<const SigningKeys>> keys =
      SigningKeys::FromPemFiles(key_files, absl::GetFlag(FLAGS_jwt_issuer), clock);
  if (!keys.ok()) tally::ExitBadConfig(argv[0], keys.status());
  const absl::Duration lifetime = absl::GetFlag(FLAGS_session_lifetime);
  if (lifetime < absl::Minutes(1) || lifetime > absl::Hours(24 * 30)) {
    Bad(argv[0], "--session_lifetime must be between 1m and 720h");
  }

  LoginConfig config;
  config.login_ttl = absl::GetFlag(FLAGS_login_ttl);
  if (config.login_ttl < absl::Minutes(1) || config.login_ttl > absl::Hours(1)) {
    Bad(argv[0], "--login_ttl must be between 1m and 1h");
  }
  LockoutPolicy lockout;
  lockout.threshold = absl::GetFlag(FLAGS_lockout_threshold);
  lockout.first_lock = absl::GetFlag(FLAGS_lockout_duration);
  lockout.max_lock = absl::GetFlag(FLAGS_lockout_max_duration);
  lockout.forget_after = absl::GetFlag(FLAGS_lockout_forget_after);
  if (lockout.threshold < 1 || lockout.threshold > 100) {
    Bad(argv[0], "--lockout_threshold must be 1..100");
  }
  if (lockout.first_lock < absl::Seconds(1) || lockout.max_lock < lockout.first_lock ||
      lockout.forget_after < absl::Minutes(1)) {
    Bad(argv[0], "--lockout_duration must be >= 1s, --lockout_max_duration >= it, "
                 "--lockout_forget_after >= 1m");
  }
  PeerCallOptions peer_options;
  peer_options.timeout = absl::GetFlag(FLAGS_peer_timeout);
  peer_options.read_attempts = absl::GetFlag(FLAGS_peer_read_attempts);
  if (peer_options.timeout <= absl::ZeroDuration() || peer_options.read_attempts < 1) {
    Bad(argv[0], "--peer_timeout must be > 0 and --peer_read_attempts >= 1");
  }
  const absl::Duration cache_ttl = absl::GetFlag(FLAGS_settings_cache_ttl);
  if (cache_ttl < absl::ZeroDuration() || cache_ttl > absl::Seconds(10)) {
    Bad(argv[0], "--settings_cache_ttl must be between 0s and 10s");
  }

  absl::StatusOr<tally::TlsFiles> tls = tally::TlsFilesFromFlags();
  if (!tls.ok()) tally::ExitBadConfig(argv[0], tls.status());
  const std::shared_ptr<grpc::ChannelCredentials> credentials = tally::MakeChannelCredentials(*tls);
  auto channel = [&](const std::string& address) {
    return tally::MakePeerChannel(address, credentials);
  };
  GrpcPolicyPeer policy_peer(
      tally::policy::v1::PolicyService::NewStub(channel(absl::GetFlag(FLAGS_policy_addr))),
      peer_options);
  CachingPolicyPeer policy(policy_peer, clock, cache_ttl);
  GrpcCredentialPeer credential_peer(
      tally::credential::v1::CredentialService::NewStub(
          channel(absl::GetFlag(FLAGS_credential_addr))),
      peer_options);
  const absl::Duration user_max_stale = absl::GetFlag(FLAGS_user_max_stale);
  if (user_max_stale < absl::ZeroDuration() || user_max_stale > absl::Hours(1)) {
    Bad(argv[0], "--user_max_stale must be between 0s and 1h");
  }
  StaleUserCredentialPeer credential(credential_peer, clock, user_max_stale);
  GrpcOtpPeer otp_peer(tally::otp::v1::OtpService::NewStub(channel(absl::GetFlag(FLAGS_otp_addr))),
                       peer_options);
  GrpcPasskeyPeer passkey_peer(
      tally::passkey::v1::PasskeyService::NewStub(channel(absl::GetFlag(FLAGS_passkey_addr))),
      peer_options);

  auto redis = std::make_shared<tally::RedisClient>(*redis_options);
  RedisLoginStore logins(redis);
  RedisLockoutStore lockouts(redis, lockout, tally::CsprngRandom::Get());
  tally::RedisRevocationStore revocations(redis, clock);
  SessionManager sessions(*keys, revocations, clock, tally::CsprngRandom::Get(), lifetime);

  tally::ServerRunner runner(*server_options, tally::GetLogger("server"));
  LoginMetrics metrics(runner.metrics().registry());
  LoginManager manager(logins, lockouts, policy, credential, otp_peer, passkey_peer, sessions,
                       clock, tally::CsprngRandom::Get(), config, &metrics);
  LoginServiceImpl login_service(manager);
  SessionServiceImpl session_service(sessions);
  runner.AddService(&login_service);
  runner.AddService(&session_service);
  runner.AddHealthCheck("redis", [redis] { return redis->Ping(); });
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger->critical("{}", s);
    return 1;
  }
  logger->info("signing with {} key(s); peers policy={} credential={} otp={} passkey={}",
               key_files.size(), absl::GetFlag(FLAGS_policy_addr),
               absl::GetFlag(FLAGS_credential_addr), absl::GetFlag(FLAGS_otp_addr),
               absl::GetFlag(FLAGS_passkey_addr));
  runner.RunUntilSignal();
  return 0;
}
