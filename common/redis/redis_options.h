#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/redis/cluster_topology.h"

namespace tally {

struct RedisOptions {
  // Single node: where it is. Unused in cluster mode.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Redis Cluster: seed nodes to learn the slot map from (any of them will do; more than one
  // in case some are down). Non-empty selects cluster mode.
  std::vector<RedisNode> cluster_nodes;
  // Redis 6 ACL user; empty means the legacy single-password AUTH.
  std::string user;
  std::string password;
  int db = 0;  // single node only: a Redis Cluster has db 0 alone
  absl::Duration connect_timeout = absl::Seconds(1);
  // Per command (socket read/write timeout) and also the longest wait for a free connection.
  absl::Duration command_timeout = absl::Seconds(1);
  // Connections at most, per node.
  int pool_size = 8;
  // After a failed connect, calls that need a new connection to that node fail fast for this
  // long, so an outage does not make every request pay a connect attempt. Zero disables.
  absl::Duration reconnect_backoff = absl::Milliseconds(200);
  // Sent as CLIENT SETNAME on connect when non-empty (no spaces), to spot us in CLIENT LIST.
  std::string client_name;
  // Cluster mode: how long one call keeps following redirections and retrying while a slot
  // migrates (TRYAGAIN), the cluster is down (CLUSTERDOWN) or a primary cannot be reached
  // (its replica may be taking over). The deadline of the call being served (CurrentDeadline)
  // cuts it shorter. A single node is never retried.
  absl::Duration retry_timeout = absl::Seconds(2);
  // Writes made with RedisDurability::kReplicated wait (WAIT) until this many replicas have
  // them, within the call's deadline; 0: they do not wait.
  int min_replica_acks = 0;
};

}  // namespace tally
