#include "services/orchestrator/orchestrator_config.h"

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/redis/redis_config.h"
#include "common/redis/redis_flags.h"

ABSL_DECLARE_FLAG(std::string, jwt_issuer);

// Redis (logins, lockout counters, revocations): the shared flags of common/redis/redis_flags.h.
ABSL_FLAG(int, redis_pool_size, 16, "Redis connections at most (per node of a Redis Cluster).");
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
ABSL_FLAG(int, lockout_threshold, 5,
          "Consecutive failures of one method before a user is locked (for every method).");
ABSL_FLAG(int, start_login_per_client_per_minute, 60,
          "StartLogin calls per minute from one client_ip (an IPv6 /64 counts as one address) "
          "in a directory; 0 = no limit.");
ABSL_FLAG(int, start_login_per_directory_per_minute, 3000,
          "StartLogin calls per minute in one directory; 0 = no limit.");
ABSL_FLAG(int, lockout_permanent_threshold, 100,
          "Consecutive failures in total (every method) that lock a user until "
          "LoginService.UnlockUser (NIST SP 800-63B: at most 100).");
ABSL_FLAG(absl::Duration, lockout_duration, absl::Minutes(1),
          "First lock; it doubles with each further failure.");
ABSL_FLAG(absl::Duration, lockout_max_duration, absl::Hours(1), "Longest lock.");
ABSL_FLAG(absl::Duration, lockout_forget_after, absl::Hours(24),
          "Failures older than this (without a running lock) are forgotten.");

namespace tally::orchestrator {
namespace {

constexpr int kDefaultPort = 50050;

absl::Status Invalid(const char* why) { return absl::InvalidArgumentError(why); }

absl::Status TakeSessionFlags(OrchestratorServerConfig& config, const Clock& clock) {
  config.signing_key_files =
      absl::StrSplit(absl::GetFlag(FLAGS_signing_key_files), ',', absl::SkipWhitespace());
  if (config.signing_key_files.empty()) return Invalid("--signing_key_files is required");
  absl::Status s = TakeValue(
      SigningKeys::FromPemFiles(config.signing_key_files, absl::GetFlag(FLAGS_jwt_issuer), clock),
      &config.signing_keys);
  if (!s.ok()) return s;
  config.session_lifetime = absl::GetFlag(FLAGS_session_lifetime);
  // At most what every verifier accepts (kMaxSessionLifetime: a per-user revocation lives as
  // long).
  if (config.session_lifetime < absl::Minutes(1) || config.session_lifetime > kMaxSessionLifetime) {
    return Invalid("--session_lifetime must be between 1m and 720h");
  }
  return absl::OkStatus();
}

absl::Status TakeStartLimitFlags(StartLimits& limits) {
  limits.per_client_per_minute = absl::GetFlag(FLAGS_start_login_per_client_per_minute);
  limits.per_directory_per_minute = absl::GetFlag(FLAGS_start_login_per_directory_per_minute);
  if (limits.per_client_per_minute < 0 || limits.per_directory_per_minute < 0) {
    return Invalid(
        "--start_login_per_client_per_minute and "
        "--start_login_per_directory_per_minute must be >= 0");
  }
  return absl::OkStatus();
}

absl::Status TakeLoginFlags(LoginConfig& login, LockoutPolicy& lockout) {
  login.login_ttl = absl::GetFlag(FLAGS_login_ttl);
  if (login.login_ttl < absl::Minutes(1) || login.login_ttl > absl::Hours(1)) {
    return Invalid("--login_ttl must be between 1m and 1h");
  }
  lockout.threshold = absl::GetFlag(FLAGS_lockout_threshold);
  lockout.first_lock = absl::GetFlag(FLAGS_lockout_duration);
  lockout.max_lock = absl::GetFlag(FLAGS_lockout_max_duration);
  lockout.forget_after = absl::GetFlag(FLAGS_lockout_forget_after);
  lockout.permanent_threshold = absl::GetFlag(FLAGS_lockout_permanent_threshold);
  if (lockout.threshold < 1 || lockout.threshold > 100) {
    return Invalid("--lockout_threshold must be 1..100");
  }
  if (lockout.permanent_threshold < lockout.threshold || lockout.permanent_threshold > 100) {
    return Invalid("--lockout_permanent_threshold must be --lockout_threshold..100");
  }
  if (lockout.first_lock < absl::Seconds(1) || lockout.max_lock < lockout.first_lock ||
      lockout.forget_after < absl::Minutes(1)) {
    return Invalid("--lockout_duration must be >= 1s, --lockout_max_duration >= it, "
                   "--lockout_forget_after >= 1m");
  }
  return absl::OkStatus();
}

absl::Status TakePeerFlags(OrchestratorServerConfig& config) {
  config.peers.policy_addr = absl::GetFlag(FLAGS_policy_addr);
  config.peers.credential_addr = absl::GetFlag(FLAGS_credential_addr);
  config.peers.otp_addr = absl::GetFlag(FLAGS_otp_addr);
  config.peers.passkey_addr = absl::GetFlag(FLAGS_passkey_addr);
  config.peers.calls.timeout = absl::GetFlag(FLAGS_peer_timeout);
  config.peers.calls.read_attempts = absl::GetFlag(FLAGS_peer_read_attempts);
  if (config.peers.calls.timeout <= absl::ZeroDuration() || config.peers.calls.read_attempts < 1) {
    return Invalid("--peer_timeout must be > 0 and --peer_read_attempts >= 1");
  }
  config.peers.settings_cache_ttl = absl::GetFlag(FLAGS_settings_cache_ttl);
  if (config.peers.settings_cache_ttl < absl::ZeroDuration() ||
      config.peers.settings_cache_ttl > absl::Seconds(10)) {
    return Invalid("--settings_cache_ttl must be between 0s and 10s");
  }
  config.peers.user_max_stale = absl::GetFlag(FLAGS_user_max_stale);
  if (config.peers.user_max_stale < absl::ZeroDuration() || config.peers.user_max_stale > absl::Hours(1)) {
    return Invalid("--user_max_stale must be between 0s and 1h");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OrchestratorServerConfig> OrchestratorServerConfigFromFlags(const Clock& clock) {
  OrchestratorServerConfig config;
  absl::Status s = TakeValue(ServerOptionsFromFlags(kDefaultPort), &config.server);
  if (s.ok()) {
    s = TakeValue(ServiceRedisOptions(RedisSettingsFromFlags(), "tally-orchestrator",
                                      absl::GetFlag(FLAGS_redis_pool_size)),
                  &config.redis);
  }
  if (s.ok()) s = TakeSessionFlags(config, clock);
  if (s.ok()) s = TakeLoginFlags(config.login, config.lockout);
  if (s.ok()) s = TakeStartLimitFlags(config.start_limits);
  if (s.ok()) s = TakePeerFlags(config);
  if (!s.ok()) return s;
  return config;
}

}  // namespace tally::orchestrator
