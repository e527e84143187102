#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis/redis_options.h"
#include "common/redis/redis_reply.h"

namespace tally {

class ClusterRouter;
class NodePool;

// Parses redis://[[user]:password@]host[:port][/db]. User and password may be %-encoded;
// an IPv6 host is written in brackets. The other options keep their defaults.
// INVALID_ARGUMENT on anything else; the message never repeats the URL or its parts.
absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url);

// A Lua script and its SHA-1, computed once so every call can use EVALSHA.
// Typically a function-local static: `static const RedisScript* const kScript = new ...`.
class RedisScript {
 public:
  explicit RedisScript(std::string source);

  const std::string& source() const { return source_; }
  // 40 lower-case hex digits, as SCRIPT LOAD returns.
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// What a write must reach before the call reports it done.
enum class RedisDurability {
  // The primary's reply. What most pending state needs: a failover that loses it costs a retry.
  kPrimary,
  // Then WAIT, on the same connection, until RedisOptions::min_replica_acks replicas have it
  // (nothing more when that is 0), within the call's deadline: UNAVAILABLE when fewer confirm,
  // and the caller retries. For the writes a failover must not undo (revocations, lockout
  // escalations, consumed codes and challenges): Redis replicates asynchronously, and a
  // replica promoted before it received such a write would bring back what was revoked.
  kReplicated,
};

// A thread-safe Redis client, to one node or to a Redis Cluster (RedisOptions::cluster_nodes);
// callers see the same interface either way. Share one per process as
// std::shared_ptr<RedisClient>.
//
// Construction never blocks or fails: connections are opened on demand (AUTH and SELECT
// included), so a service can start while Redis is down. Each node has a pool of up to
// `pool_size` blocking hiredis connections. A connection that saw an I/O error or a timeout is
// closed, never reused; one the server closed while idle is dropped before use. The next call
// simply connects again.
//
// Redis Cluster: every command and script goes to the primary of the hash slot of its keys
// (key_slot.h); keys in different slots are refused here, before anything is sent (INTERNAL).
// Keyless commands go to any primary. The slot map comes from CLUSTER SHARDS (CLUSTER SLOTS
// before Redis 7) and is loaded again after a MOVED (the command is then sent where it points)
// and when a primary cannot be reached. An ASK is followed once, after ASKING. TRYAGAIN (a
// multi-key command while its slot migrates), CLUSTERDOWN and an unreachable primary (its
// replica may be taking over) are retried with a growing pause for up to retry_timeout. A
// command that may have reached Redis (an I/O error or a timeout after sending) is never sent
// again: it may have run. Scripts are cached per node with the same EVALSHA/NOSCRIPT fallback.
//
// Deadlines: no call works past CurrentDeadline() (the deadline of the gRPC call the thread
// serves, common/util/deadline.h): waits, connects, round trips and retries are cut short, and
// the call answers UNAVAILABLE instead. Without one, a call takes at most: a wait for a free
// connection (command_timeout), a connect (connect_timeout, then command_timeout per
// AUTH/SELECT), command_timeout per round trip (Eval may take two: EVALSHA, then EVAL; a
// replicated write one more: WAIT), and in cluster mode retries up to retry_timeout.
//
// SIGPIPE: a write to a connection the server reset raises it. Unless the process ignores
// SIGPIPE when the client is constructed (IgnoreSigpipe() in a service's main), each round trip
// blocks it in the calling thread and swallows the one it caused.
//
// Status codes:
//   UNAVAILABLE       cannot connect, I/O error, timeout, no free connection within
//                     command_timeout, AUTH/SELECT refused, the deadline passed, a replicated
//                     write that too few replicas confirmed, or a transient server state
//                     (LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN, CLUSTERDOWN, a
//                     redirection not settled in time). Retryable.
//   INTERNAL          Command(): Redis answered with an error reply ("redis error: <text>");
//                     in cluster mode also keys that span hash slots.
//   ABORTED           Eval(): the script raised an error (redis.error_reply(...) or a runtime
//                     error), message "redis script error: <text>". Unique to Eval, so
//                     callers can tell a script's verdict from a transport failure.
//   INVALID_ARGUMENT  Command() with no arguments.
// Messages carry Redis's error text but never the command's arguments (they may be secrets).
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();

  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command, e.g. {"SET", key, value, "PX", "60000"}. Binary-safe.
  // An error reply becomes a status (see above); every other reply is returned.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args,
                                     RedisDurability durability = RedisDurability::kPrimary);

  // EVALSHA of `script`; if Redis has not cached it (NOSCRIPT), EVAL on the same connection,
  // which caches it again for later calls. Every key the script touches must be in `keys`.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args,
                                  RedisDurability durability = RedisDurability::kPrimary);

  // OK when Redis answers PING (in cluster mode: when any primary does, since the other
  // shards serve while one fails over); for health checks.
  absl::Status Ping();

  // Cluster mode: `args` on every primary of the slot map, in its order (INFO for counters
  // summed over the cluster; FLUSHALL in tests). A single node: on that node.
  absl::StatusOr<std::vector<RedisReply>> CommandOnEveryPrimary(
      const std::vector<std::string>& args);

  bool cluster() const { return !options_.cluster_nodes.empty(); }

  // Commands sent by Command, Eval and Ping since construction (an EVALSHA answered NOSCRIPT
  // and its EVAL count two, as do the ASKING before a command and the WAIT after one;
  // connection set-up and slot map loads do not count): round trips, for tests and benchmarks
  // that hold a login step to its budget.
  int64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }
  // Of those, the EVALs resent after NOSCRIPT (Redis restarted, failed over or flushed its
  // script cache): a budget of round trips per operation holds without them.
  int64_t script_reloads() const { return script_reloads_.load(std::memory_order_relaxed); }
  // Of those, the WAITs after replicated writes (none while min_replica_acks is 0).
  int64_t replica_waits() const { return replica_waits_.load(std::memory_order_relaxed); }
  // Cluster mode: MOVED and ASK redirections followed (each sends its command once more), and
  // slot maps loaded.
  int64_t redirections() const { return redirections_.load(std::memory_order_relaxed); }
  int64_t slot_map_loads() const;

  const RedisOptions& options() const { return options_; }
  // Whether each round trip blocks SIGPIPE around its write (the process did not ignore it).
  bool guards_sigpipe() const { return guard_sigpipe_; }

 private:
  struct Call;
  enum class Failure;
  absl::StatusOr<RedisReply> Run(const Call& call);
  absl::StatusOr<RedisReply> RunInCluster(const Call& call, absl::Time deadline);
  // One try of `call` on `pool`: the reply (an error reply stays a reply) or a status, and in
  // `failure` whether another try may follow.
  absl::StatusOr<RedisReply> Attempt(NodePool& pool, const Call& call, bool asking,
                                     absl::Time deadline, Failure* failure);

  const RedisOptions options_;
  // False when the process ignored SIGPIPE at construction: no per-call signal mask needed.
  const bool guard_sigpipe_;
  std::unique_ptr<NodePool> node_;         // single node
  std::unique_ptr<ClusterRouter> router_;  // cluster mode
  std::atomic<int64_t> round_trips_{0};
  std::atomic<int64_t> script_reloads_{0};
  std::atomic<int64_t> replica_waits_{0};
  std::atomic<int64_t> redirections_{0};
};

}  // namespace tally
