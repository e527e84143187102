#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "common/util/clock.h"
#include "services/orchestrator/cluster_peers.h"
#include "services/orchestrator/login_manager.h"
#include "services/orchestrator/login_store.h"
#include "services/orchestrator/session_manager.h"

namespace tally::orchestrator {

// Everything tally-orchestrator takes from its flags (and their TALLY_* variables), checked.
struct OrchestratorServerConfig {
  ServerOptions server;  // the shared server flags; port 50050 by default
  RedisOptions redis;    // --redis_url (required), --redis_pool_size
  // --signing_key_files (newest first; the first signs) loaded, with --jwt_issuer.
  std::vector<std::string> signing_key_files;
  std::shared_ptr<const SigningKeys> signing_keys;
  absl::Duration session_lifetime;  // --session_lifetime
  LoginConfig login;                // --login_ttl
  LockoutPolicy lockout;            // --lockout_*
  StartLimits start_limits;         // --start_login_per_client_per_minute, ..._per_directory_...
  ClusterPeersConfig peers;         // --*_addr, --peer_*, --settings_cache_ttl, --user_max_stale
};

// INVALID_ARGUMENT naming the flag when a value is bad (or a signing key cannot be used).
// `clock` (for the signing keys) must outlive the configuration.
absl::StatusOr<OrchestratorServerConfig> OrchestratorServerConfigFromFlags(const Clock& clock);

}  // namespace tally::orchestrator
