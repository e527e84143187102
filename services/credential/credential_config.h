#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/postgres/pg_pool.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/credential/credential_manager.h"
#include "services/credential/factor_guard.h"
#include "services/credential/password_hashing.h"
#include "services/credential/password_policy.h"
#include "services/credential/totp_manager.h"

namespace tally::credential {

// Everything tally-credential takes from its flags (and their TALLY_* variables), checked.
struct CredentialServerConfig {
  ServerOptions server;         // the shared server flags; port 50052 by default
  PgOptions postgres;           // --postgres_url, --postgres_pool_size
  std::string postgres_schema;  // --postgres_schema: the schema this service owns and migrates
  // --redis_url (required): the revocation records every bearer token is checked against.
  RedisOptions revocation_redis;
  // --argon2_memory_kib, --argon2_iterations, --argon2_parallelism; --max_concurrent_hashes (0
  // resolved to the hardware threads); --hash_queue_size (-1 resolved to max_concurrent_hashes).
  PasswordHashingOptions hashing;
  PasswordRules password_rules;  // --min_password_length
  // --password_blocklist, loaded (empty without the flag, which blocklist_file then is).
  std::string blocklist_file;
  PasswordBlocklist blocklist;
  // --policy_addr, --policy_timeout: where directories' required levels and names come from.
  std::string policy_addr;
  absl::Duration policy_timeout;
  // --totp_encryption_key (required, 32 bytes) and --totp_enrollment_ttl.
  TotpOptions totp;
  // --recovery_code_hmac_key (required, at least 32 bytes).
  std::string recovery_code_hmac_key;
  // --otp_addr, --otp_timeout: where contact changes send codes and notices.
  std::string otp_addr;
  absl::Duration otp_timeout;
  // --current_password_attempts, --current_password_attempt_window.
  AccountSecurityOptions account;
  // --reauth_max_age and the attempt budget of TOTP and recovery codes.
  FactorGuardOptions factors;
};

// INVALID_ARGUMENT naming the flag when a value is bad (or the blocklist cannot be read).
absl::StatusOr<CredentialServerConfig> CredentialServerConfigFromFlags();

}  // namespace tally::credential
