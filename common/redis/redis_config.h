#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"

namespace tally {

// What a service was told about its Redis: the shared flags of common/redis/redis_flags.h and
// TALLY_REDIS_PASSWORD, unchecked.
struct RedisSettings {
  std::string url;            // --redis_url: one Redis
  std::string cluster_nodes;  // --redis_cluster_nodes: a Redis Cluster's seeds, host:port,...
  std::string user;           // --redis_user
  std::string password;       // TALLY_REDIS_PASSWORD (never a flag)
  int min_replica_acks = -1;  // --redis_min_replica_acks; -1: 1 for a cluster, 0 for one Redis
  absl::Duration retry_timeout = absl::Seconds(2);  // --redis_retry_timeout

  // Whether a Redis was given at all (every service requires one: ServiceRedisOptions).
  bool given() const { return !url.empty() || !cluster_nodes.empty(); }
};

// A service's Redis from `settings`: one Redis (--redis_url) or a Redis Cluster
// (--redis_cluster_nodes), exactly one of the two, with the password from the URL or from
// TALLY_REDIS_PASSWORD (not both). `client_name` names the connections in CLIENT LIST;
// `pool_size` (--redis_pool_size, at least 1) is for the services that have that flag, the
// others keep RedisOptions' default. Bad values are INVALID_ARGUMENT naming the flag, never
// repeating the URL or the password.
absl::StatusOr<RedisOptions> ServiceRedisOptions(const RedisSettings& settings,
                                                 absl::string_view client_name,
                                                 std::optional<int> pool_size = std::nullopt);

}  // namespace tally
