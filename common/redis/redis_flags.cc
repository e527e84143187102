#include "common/redis/redis_flags.h"

#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, redis_url, "",
          "One Redis: redis://[[user]:password@]host[:port][/db]; prefer TALLY_REDIS_URL from a "
          "Secret. Exclusive with --redis_cluster_nodes; one of the two is required.");
ABSL_FLAG(std::string, redis_cluster_nodes, "",
          "A Redis Cluster instead: host:port,host:port,... of seed nodes (any live one will "
          "do). The password comes from the TALLY_REDIS_PASSWORD environment variable.");
ABSL_FLAG(std::string, redis_user, "",
          "Redis 6 ACL user (with TALLY_REDIS_PASSWORD); with --redis_url the URL may carry it.");
ABSL_FLAG(int, redis_min_replica_acks, -1,
          "Replicas that must confirm a write a failover must not undo (revocations, lockout "
          "failures, consumed codes and challenges) before it is reported done; fewer within "
          "the call's deadline: UNAVAILABLE. -1: 1 with --redis_cluster_nodes, 0 with "
          "--redis_url.");
ABSL_FLAG(absl::Duration, redis_retry_timeout, absl::Seconds(2),
          "Redis Cluster: how long one call keeps retrying while a slot migrates or a primary "
          "is replaced (the gRPC call's deadline may cut it shorter).");

namespace tally {

RedisSettings RedisSettingsFromFlags() {
  RedisSettings settings;
  settings.url = absl::GetFlag(FLAGS_redis_url);
  settings.cluster_nodes = absl::GetFlag(FLAGS_redis_cluster_nodes);
  settings.user = absl::GetFlag(FLAGS_redis_user);
  if (const char* password = std::getenv("TALLY_REDIS_PASSWORD"); password != nullptr) {
    settings.password = password;
  }
  settings.min_replica_acks = absl::GetFlag(FLAGS_redis_min_replica_acks);
  settings.retry_timeout = absl::GetFlag(FLAGS_redis_retry_timeout);
  return settings;
}

}  // namespace tally
