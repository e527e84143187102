#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/postgres/pg_pool.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/credential/password_hasher.h"
#include "services/credential/password_policy.h"

namespace tally::credential {

// Everything tally-credential takes from its flags (and their TALLY_* variables), checked.
struct CredentialServerConfig {
  ServerOptions server;         // the shared server flags; port 50052 by default
  PgOptions postgres;           // --postgres_url, --postgres_pool_size
  std::string postgres_schema;  // --postgres_schema: the schema this service owns and migrates
  // --redis_url (required): the revocation records every bearer token is checked against.
  RedisOptions revocation_redis;
  Argon2Params argon2;        // --argon2_memory_kib, --argon2_iterations, --argon2_parallelism
  int max_concurrent_hashes = 0;  // --max_concurrent_hashes, 0 resolved to the hardware threads
  int hash_queue_size = 0;        // --hash_queue_size, -1 resolved to max_concurrent_hashes
  PasswordRules password_rules;  // --min_password_length
  // --password_blocklist, loaded (empty without the flag, which blocklist_file then is).
  std::string blocklist_file;
  PasswordBlocklist blocklist;
};

// INVALID_ARGUMENT naming the flag when a value is bad (or the blocklist cannot be read).
absl::StatusOr<CredentialServerConfig> CredentialServerConfigFromFlags();

}  // namespace tally::credential
