#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// hiredis stays out of this header so users of tally_redis need not see it.
struct redisContext;

namespace tally {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Redis 6 ACL user; empty means the legacy single-password AUTH.
  std::string user;
  std::string password;
  int db = 0;
  absl::Duration connect_timeout = absl::Seconds(1);
  // Per command (socket read/write timeout) and also the longest wait for a free connection.
  absl::Duration command_timeout = absl::Seconds(1);
  int pool_size = 8;
  // After a failed connect, calls that need a new connection fail fast for this long, so a
  // Redis outage does not make every request pay a connect attempt. Zero disables.
  absl::Duration reconnect_backoff = absl::Milliseconds(200);
  // Sent as CLIENT SETNAME on connect when non-empty (no spaces), to spot us in CLIENT LIST.
  std::string client_name;
};

// Parses redis://[[user]:password@]host[:port][/db]. User and password may be %-encoded;
// an IPv6 host is written in brackets. The other options keep their defaults.
// INVALID_ARGUMENT on anything else; the message never repeats the URL or its parts.
absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url);

// An owned copy of one RESP2 reply.
class RedisReply {
 public:
  enum class Type { kNil, kString, kInteger, kStatus, kError, kArray };

  static RedisReply Nil() { return RedisReply(Type::kNil); }
  static RedisReply String(std::string value);
  static RedisReply Status(std::string value);
  static RedisReply Error(std::string value);
  static RedisReply Integer(int64_t value);
  static RedisReply Array(std::vector<RedisReply> elements);

  Type type() const { return type_; }
  bool IsNil() const { return type_ == Type::kNil; }
  bool IsString() const { return type_ == Type::kString; }
  bool IsInteger() const { return type_ == Type::kInteger; }
  bool IsStatus() const { return type_ == Type::kStatus; }
  bool IsError() const { return type_ == Type::kError; }
  bool IsArray() const { return type_ == Type::kArray; }

  // The bytes of a string, status or error reply; empty for other types.
  const std::string& str() const { return str_; }
  // The value of an integer reply; 0 for other types.
  int64_t integer() const { return integer_; }
  // The elements of an array reply; empty for other types.
  const std::vector<RedisReply>& elements() const { return elements_; }

 private:
  explicit RedisReply(Type type) : type_(type) {}

  Type type_;
  std::string str_;
  int64_t integer_ = 0;
  std::vector<RedisReply> elements_;
};

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

// A thread-safe pool of up to `pool_size` blocking hiredis connections. Share one per process
// as std::shared_ptr<RedisClient>.
//
// Construction never blocks or fails: connections are opened on demand (AUTH and SELECT
// included), so a service can start while Redis is down. A connection that saw an I/O error
// or a timeout is closed, never reused; one the server closed while idle is dropped before
// use. The next call simply connects again.
//
// Latency bound per call: waiting for a free connection (at most command_timeout), plus a
// connect if one is needed (connect_timeout, then command_timeout per AUTH/SELECT), plus
// command_timeout per round trip (Eval may take two: EVALSHA, then EVAL).
//
// SIGPIPE: a write to a connection the server reset raises it. Unless the process ignores
// SIGPIPE when the client is constructed (IgnoreSigpipe() in a service's main), each round trip
// blocks it in the calling thread and swallows the one it caused.
//
// Status codes:
//   UNAVAILABLE       cannot connect, I/O error, timeout, no free connection within
//                     command_timeout, AUTH/SELECT refused, or a transient server state
//                     (LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN, CLUSTERDOWN). Retryable.
//   INTERNAL          Command(): Redis answered with an error reply ("redis error: <text>").
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
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);

  // EVALSHA of `script`; if Redis has not cached it (NOSCRIPT), EVAL on the same connection,
  // which caches it again for later calls.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // OK when Redis answers PING; for health checks.
  absl::Status Ping();

  // Commands sent by Command, Eval and Ping since construction (an EVALSHA answered NOSCRIPT
  // and its EVAL count two; connection set-up does not count): round trips, for tests and
  // benchmarks that hold a login step to its budget.
  int64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }
  // Of those, the EVALs resent after NOSCRIPT (Redis restarted, failed over or flushed its
  // script cache): a budget of round trips per operation holds without them.
  int64_t script_reloads() const { return script_reloads_.load(std::memory_order_relaxed); }

  const RedisOptions& options() const { return options_; }
  // Whether each round trip blocks SIGPIPE around its write (the process did not ignore it).
  bool guards_sigpipe() const { return guard_sigpipe_; }

 private:
  class Lease;

  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<redisContext*> Acquire();
  void Release(redisContext* context, bool reusable);
  absl::StatusOr<redisContext*> Connect() const;

  const RedisOptions options_;
  // False when the process ignored SIGPIPE at construction: no per-call signal mask needed.
  const bool guard_sigpipe_;

  absl::Mutex mu_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);
  // Connections that exist, idle or leased (or being opened); never above pool_size.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time no_connect_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_connect_error_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> round_trips_{0};
  std::atomic<int64_t> script_reloads_{0};
};

}  // namespace tally
