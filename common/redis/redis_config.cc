#include "common/redis/redis_config.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {
namespace {

// A replica count beyond any real deployment: a typo, not a wish.
constexpr int kMaxReplicaAcks = 16;

}  // namespace

absl::StatusOr<RedisOptions> ServiceRedisOptions(const RedisSettings& settings,
                                                 absl::string_view client_name,
                                                 std::optional<int> pool_size) {
  const bool cluster = !settings.cluster_nodes.empty();
  if (!settings.given()) {
    return absl::InvalidArgumentError("--redis_url (or --redis_cluster_nodes) is required");
  }
  if (cluster && !settings.url.empty()) {
    return absl::InvalidArgumentError(
        "--redis_url and --redis_cluster_nodes exclude each other: one Redis, or a Redis "
        "Cluster");
  }
  RedisOptions options;
  if (cluster) {
    absl::StatusOr<std::vector<RedisNode>> nodes = ParseRedisNodes(settings.cluster_nodes);
    if (!nodes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_cluster_nodes: ", nodes.status().message()));
    }
    options.cluster_nodes = *std::move(nodes);
  } else {
    absl::StatusOr<RedisOptions> parsed =
        ParseRedisUrl(std::string_view(settings.url.data(), settings.url.size()));
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--redis_url: ", parsed.status().message()));
    }
    options = *std::move(parsed);
  }
  if (!settings.password.empty()) {
    if (!options.password.empty()) {
      return absl::InvalidArgumentError(
          "--redis_url holds a password and TALLY_REDIS_PASSWORD is set too: give it once");
    }
    options.password = settings.password;
  }
  if (!settings.user.empty()) {
    if (!options.user.empty()) {
      return absl::InvalidArgumentError(
          "--redis_url names a user and --redis_user is set too: give it once");
    }
    if (options.password.empty()) {
      return absl::InvalidArgumentError("--redis_user needs a password (TALLY_REDIS_PASSWORD)");
    }
    options.user = settings.user;
  }
  if (settings.min_replica_acks < -1 || settings.min_replica_acks > kMaxReplicaAcks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--redis_min_replica_acks must be -1 (1 for a cluster, 0 for one Redis) to ",
        kMaxReplicaAcks));
  }
  options.min_replica_acks =
      settings.min_replica_acks >= 0 ? settings.min_replica_acks : (cluster ? 1 : 0);
  if (settings.retry_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--redis_retry_timeout must be > 0");
  }
  options.retry_timeout = settings.retry_timeout;
  options.client_name = std::string(client_name);
  if (pool_size.has_value()) {
    if (*pool_size < 1) return absl::InvalidArgumentError("--redis_pool_size must be >= 1");
    options.pool_size = *pool_size;
  }
  return options;
}

}  // namespace tally
