#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/postgres/pg_pool.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/passkey/passkey_manager.h"

namespace tally::passkey {

// Everything tally-passkey takes from its flags (and their TALLY_* variables), checked.
struct PasskeyServerConfig {
  ServerOptions server;         // the shared server flags; port 50054 by default
  PgOptions postgres;           // --postgres_url, --postgres_pool_size
  std::string postgres_schema;  // --postgres_schema: the schema this service owns and migrates
  RedisOptions redis;           // --redis_url (required): challenges and revoked sessions
  std::string policy_addr;      // --policy_addr
  absl::Duration policy_timeout;  // --policy_timeout
  // The relying party (--rp_*, --user_verification, --allow_cross_origin, --top_origins; the
  // origins normalised), --challenge_ttl, --rp_cache_ttl, the anchors of --attestation_ca_file
  // (loaded) and --require_attestation with its allowed AAGUIDs.
  PasskeyOptions passkey;
};

// INVALID_ARGUMENT naming the flag when a value is bad (or the CA file cannot be used).
absl::StatusOr<PasskeyServerConfig> PasskeyServerConfigFromFlags();

}  // namespace tally::passkey
