#pragma once

// Internal to tally_redis: the connections to one Redis node. RedisClient has one (single
// node) or one per primary (Redis Cluster).

#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/redis/cluster_topology.h"
#include "common/redis/redis_options.h"
#include "common/redis/redis_reply.h"

struct redisContext;

namespace tally {

// Redis's error text, cut short, without the echoed arguments of an unknown command and with
// unprintable bytes escaped: fit for a status message and a log line.
std::string SanitizeRedisError(absl::string_view text);

// A thread-safe pool of up to `pool_size` blocking hiredis connections to one node, opened on
// demand (AUTH, SELECT and CLIENT SETNAME included).
class NodePool {
 public:
  NodePool(RedisNode node, const RedisOptions& options, bool guard_sigpipe);
  ~NodePool();
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  // One leased connection; back to the pool when the lease ends, or closed if it broke (an
  // I/O error or a timeout leaves its stream position unknown).
  struct Connection;

  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();

    // Sends one command and reads its reply. An error reply is returned as a RedisReply;
    // an I/O error or timeout is UNAVAILABLE and breaks the connection. Each round trip waits
    // at most the command timeout, and never past `deadline` (UNAVAILABLE without sending
    // when it has passed).
    absl::StatusOr<RedisReply> RoundTrip(absl::Span<const std::string_view> args,
                                         absl::Time deadline);

   private:
    friend class NodePool;
    Lease(NodePool* pool, Connection* connection) : pool_(pool), connection_(connection) {}

    NodePool* pool_;
    Connection* connection_;
  };

  // A connection, waiting for a free one until the command timeout or `deadline`, whichever
  // comes first. `unreachable` (when given) is set when the failure is the node itself: it
  // could not be connected to, now or within the reconnect back-off. Nothing was sent then.
  absl::StatusOr<Lease> Acquire(absl::Time deadline, bool* unreachable = nullptr);

  const RedisNode& node() const { return node_; }

 private:
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(Connection* connection, bool reusable);
  absl::StatusOr<Connection*> Connect(absl::Time deadline) const;
  absl::StatusOr<RedisReply> Send(Connection& connection, absl::Span<const std::string_view> args,
                                  absl::Time deadline) const;

  const RedisNode node_;
  const RedisOptions options_;
  const bool guard_sigpipe_;

  absl::Mutex mu_;
  std::vector<Connection*> idle_ ABSL_GUARDED_BY(mu_);
  // Connections that exist, idle or leased (or being opened); never above pool_size.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time no_connect_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_connect_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally
