#include "services/credential/credential_config.h"

#include <algorithm>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/revocation_flags.h"
#include "common/config/config.h"
#include "common/postgres/pg_flags.h"
#include "common/util/crypto.h"

ABSL_FLAG(std::string, postgres_schema, "credential", "Schema this service owns and migrates.");
ABSL_FLAG(uint32_t, argon2_memory_kib, 19456, "Argon2id memory per hash in KiB (m).");
ABSL_FLAG(uint32_t, argon2_iterations, 2, "Argon2id passes over the memory (t).");
ABSL_FLAG(uint32_t, argon2_parallelism, 1, "Argon2id lanes (p).");
ABSL_FLAG(int, max_concurrent_hashes, 0,
          "Argon2id runs at most at once; 0: one per hardware thread.");
// Small on purpose: a queued call waits about hash_queue_size / max_concurrent_hashes hash
// times, so admitted checks stay within a few hash times and overload is refused at once. One
// wave by default: an admitted check waits at most about one hash before its own.
ABSL_FLAG(int, hash_queue_size, -1,
          "Calls that may wait for a hashing slot; beyond them calls get RESOURCE_EXHAUSTED. "
          "-1: as many as --max_concurrent_hashes.");
ABSL_FLAG(int, min_password_length, 8, "Shortest new password, in characters (code points).");
ABSL_FLAG(std::string, password_blocklist, "",
          "File of passwords refused as too common, one per line (# comments); empty: none.");
ABSL_FLAG(std::string, policy_addr, "127.0.0.1:50051",
          "The policy service (directories' required levels and names, for TOTP enrolment).");
ABSL_FLAG(absl::Duration, policy_timeout, absl::Seconds(2), "Deadline of each policy call.");
ABSL_FLAG(std::string, otp_addr, "127.0.0.1:50053",
          "OTP service address: codes to a user's new e-mail or phone, notices to the old one.");
ABSL_FLAG(absl::Duration, otp_timeout, absl::Seconds(2), "Deadline of each OTP call.");
ABSL_FLAG(int, current_password_attempts, 5,
          "A user's tries at SetPassword's current_password per "
          "--current_password_attempt_window.");
ABSL_FLAG(absl::Duration, current_password_attempt_window, absl::Minutes(15),
          "The window of --current_password_attempts.");
ABSL_FLAG(std::string, totp_encryption_key, "",
          "AES-256-GCM key sealing TOTP secrets at rest, 32 bytes as hex or base64; prefer "
          "TALLY_TOTP_ENCRYPTION_KEY.");
ABSL_FLAG(absl::Duration, totp_enrollment_ttl, absl::Minutes(10),
          "How long an authenticator app enrolment waits for its first code.");
ABSL_FLAG(std::string, recovery_code_hmac_key, "",
          "Key of the recovery codes' HMAC-SHA-256, at least 32 bytes as hex or base64; prefer "
          "TALLY_RECOVERY_CODE_HMAC_KEY.");
ABSL_FLAG(int, factor_attempts, 10,
          "Attempts per user at one of TOTP or recovery codes per --factor_attempt_window.");
ABSL_FLAG(absl::Duration, factor_attempt_window, absl::Minutes(15),
          "The window of --factor_attempts.");

namespace tally::credential {
namespace {

constexpr int kDefaultPort = 50052;

// --argon2_*, --max_concurrent_hashes, --hash_queue_size, --min_password_length and the
// blocklist.
absl::Status TakePasswordFlags(CredentialServerConfig& config) {
  config.hashing.argon2.memory_kib = absl::GetFlag(FLAGS_argon2_memory_kib);
  config.hashing.argon2.iterations = absl::GetFlag(FLAGS_argon2_iterations);
  config.hashing.argon2.parallelism = absl::GetFlag(FLAGS_argon2_parallelism);
  if (absl::Status s = ValidateArgon2Params(config.hashing.argon2); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--argon2_*: ", s.message()));
  }
  config.hashing.max_concurrent_hashes = absl::GetFlag(FLAGS_max_concurrent_hashes);
  if (config.hashing.max_concurrent_hashes < 0) {
    return absl::InvalidArgumentError("--max_concurrent_hashes must be >= 0");
  }
  if (config.hashing.max_concurrent_hashes == 0) {
    config.hashing.max_concurrent_hashes = std::max(1u, std::thread::hardware_concurrency());
  }
  config.hashing.hash_queue_size = absl::GetFlag(FLAGS_hash_queue_size);
  if (config.hashing.hash_queue_size < -1) {
    return absl::InvalidArgumentError("--hash_queue_size must be >= -1");
  }
  if (config.hashing.hash_queue_size == -1) config.hashing.hash_queue_size = config.hashing.max_concurrent_hashes;
  config.password_rules.min_length = absl::GetFlag(FLAGS_min_password_length);
  if (config.password_rules.min_length < 1 || config.password_rules.min_length > 64) {
    return absl::InvalidArgumentError("--min_password_length must be 1 to 64");
  }
  config.blocklist_file = absl::GetFlag(FLAGS_password_blocklist);
  if (config.blocklist_file.empty()) return absl::OkStatus();
  absl::StatusOr<PasswordBlocklist> blocklist = PasswordBlocklist::LoadFile(config.blocklist_file);
  if (!blocklist.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--password_blocklist: ", blocklist.status().message()));
  }
  config.blocklist = *std::move(blocklist);
  return absl::OkStatus();
}

// The policy peer, the second factors' keys and limits.
absl::Status TakeFactorFlags(CredentialServerConfig& config) {
  config.policy_addr = absl::GetFlag(FLAGS_policy_addr);
  config.policy_timeout = absl::GetFlag(FLAGS_policy_timeout);
  if (config.policy_addr.empty()) return absl::InvalidArgumentError("--policy_addr is required");
  if (config.policy_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--policy_timeout must be positive");
  }
  absl::Status s = TakeValue(DecodeSecret(absl::GetFlag(FLAGS_totp_encryption_key), 32, true,
                                          "--totp_encryption_key"),
                             &config.totp.encryption_key);
  if (s.ok()) {
    s = TakeValue(DecodeSecret(absl::GetFlag(FLAGS_recovery_code_hmac_key), 32, false,
                               "--recovery_code_hmac_key"),
                  &config.recovery_code_hmac_key);
  }
  if (!s.ok()) return s;
  if (config.totp.encryption_key == config.recovery_code_hmac_key) {
    return absl::InvalidArgumentError(
        "--totp_encryption_key and --recovery_code_hmac_key must be different keys");
  }
  config.totp.enrollment_ttl = absl::GetFlag(FLAGS_totp_enrollment_ttl);
  if (config.totp.enrollment_ttl < absl::Minutes(1) ||
      config.totp.enrollment_ttl > absl::Hours(24)) {
    return absl::InvalidArgumentError("--totp_enrollment_ttl must be between 1m and 24h");
  }
  config.factors.attempts_per_window = absl::GetFlag(FLAGS_factor_attempts);
  config.factors.attempt_window = absl::GetFlag(FLAGS_factor_attempt_window);
  if (config.factors.attempts_per_window < 1 || config.factors.attempts_per_window > 1000 ||
      config.factors.attempt_window < absl::Minutes(1) ||
      config.factors.attempt_window > absl::Hours(24)) {
    return absl::InvalidArgumentError(
        "--factor_attempts must be 1..1000 and --factor_attempt_window 1m..24h");
  }
  return absl::OkStatus();
}

// The OTP peer of contact changes and SetPassword's attempt budget.
absl::Status TakeAccountFlags(CredentialServerConfig& config) {
  config.otp_addr = absl::GetFlag(FLAGS_otp_addr);
  config.otp_timeout = absl::GetFlag(FLAGS_otp_timeout);
  if (config.otp_addr.empty()) return absl::InvalidArgumentError("--otp_addr is required");
  if (config.otp_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--otp_timeout must be positive");
  }
  config.account.current_password_attempts = absl::GetFlag(FLAGS_current_password_attempts);
  config.account.current_password_attempt_window =
      absl::GetFlag(FLAGS_current_password_attempt_window);
  if (config.account.current_password_attempts < 1 ||
      config.account.current_password_attempts > 1000 ||
      config.account.current_password_attempt_window < absl::Minutes(1) ||
      config.account.current_password_attempt_window > absl::Hours(24)) {
    return absl::InvalidArgumentError(
        "--current_password_attempts must be 1..1000 and --current_password_attempt_window "
        "1m..24h");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CredentialServerConfig> CredentialServerConfigFromFlags() {
  CredentialServerConfig config;
  config.postgres_schema = absl::GetFlag(FLAGS_postgres_schema);
  absl::Status s = TakeValue(ServerOptionsFromFlags(kDefaultPort), &config.server);
  if (s.ok()) s = TakeValue(PgOptionsFromFlags(), &config.postgres);
  if (s.ok()) s = TakeValue(RevocationRedisFromFlags("tally-credential"), &config.revocation_redis);
  if (s.ok()) s = TakePasswordFlags(config);
  if (s.ok()) s = TakeFactorFlags(config);
  if (s.ok()) s = TakeAccountFlags(config);
  if (!s.ok()) return s;
  return config;
}

}  // namespace tally::credential
