#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_reply.h"

// What a Redis Cluster client learns from the cluster: who serves which hash slots
// (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) and where a command was redirected to
// (MOVED, ASK). Pure parsing, no I/O.
namespace tally {

// A node as the client connects to it: host without brackets (IPv6 too), port.
struct RedisNode {
  std::string host;
  int port = 0;

  std::string address() const;  // "host:port", "[::1]:7000"
  friend bool operator==(const RedisNode& a, const RedisNode& b) {
    return a.host == b.host && a.port == b.port;
  }
};

// A primary and the slot ranges it serves (inclusive), with its replicas.
struct ClusterShard {
  std::vector<std::pair<int, int>> slots;
  RedisNode primary;
  std::vector<RedisNode> replicas;
};

// CLUSTER SHARDS (Redis 7) as a RESP2 reply, asked of `asked` (whose host stands in for a node
// that announces no endpoint). Shards without slots or without a primary are left out.
// INTERNAL when the reply does not have the documented shape.
absl::StatusOr<std::vector<ClusterShard>> ParseClusterShards(const RedisReply& reply,
                                                             const RedisNode& asked);

// CLUSTER SLOTS (Redis 3+), the same way: one shard per slot range.
absl::StatusOr<std::vector<ClusterShard>> ParseClusterSlots(const RedisReply& reply,
                                                            const RedisNode& asked);

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381", received from `from` (whose host
// stands in for an empty one, ":6381"). nullopt for any other error text.
struct Redirect {
  bool ask = false;  // ASK: this one command once at `node` (after ASKING); MOVED: for good
  int slot = 0;
  RedisNode node;
};
std::optional<Redirect> ParseRedirect(absl::string_view error, const RedisNode& from);

// The seed list of --redis_cluster_nodes: "host:port,host:port", IPv6 hosts in brackets.
// INVALID_ARGUMENT naming the bad entry (addresses hold no secrets).
absl::StatusOr<std::vector<RedisNode>> ParseRedisNodes(absl::string_view list);

}  // namespace tally
