#include "common/redis/node_pool.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tally {
namespace {

constexpr size_t kMaxErrorText = 512;

timeval ToTimevalAtLeastMs(absl::Duration d) {
  // hiredis reads a zero timeval as "wait forever", which is never what a caller means.
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// hiredis writes with write(2), which raises SIGPIPE (fatal by default) once the peer has
// reset the connection. As libpq does, block it in this thread for the call and swallow one
// we caused, without touching the process's signal dispositions. Three system calls per round
// trip: skipped (`active` false) in a process that ignores SIGPIPE, as the services do.
class SigpipeGuard {
 public:
  explicit SigpipeGuard(bool active) : active_(active) {
    if (!active_) return;
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &saved_mask_);
    was_pending_ = IsPending();
  }
  ~SigpipeGuard() {
    if (!active_) return;
    if (!was_pending_ && IsPending()) {
      const timespec zero = {0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  static bool IsPending() {
    sigset_t pending;
    sigemptyset(&pending);
    return sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  }

  const bool active_;
  sigset_t sigpipe_;
  sigset_t saved_mask_;
  bool was_pending_ = false;
};

RedisReply CopyReply(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_NIL:
      return RedisReply::Nil();
    case REDIS_REPLY_STRING:
      return RedisReply::String(std::string(r.str, r.len));
    case REDIS_REPLY_STATUS:
      return RedisReply::Status(std::string(r.str, r.len));
    case REDIS_REPLY_ERROR:
      return RedisReply::Error(std::string(r.str, r.len));
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(r.integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) elements.push_back(CopyReply(*r.element[i]));
      return RedisReply::Array(std::move(elements));
    }
    default:
      return RedisReply::Error("ERR unsupported reply type");
  }
}

// Sends one command on a connection. On I/O error or timeout hiredis sets context->err,
// which marks the connection as unusable.
absl::StatusOr<RedisReply> RunCommand(redisContext* context,
                                      absl::Span<const std::string_view> args,
                                      bool guard_sigpipe) {
  std::vector<const char*> argv;
  std::vector<size_t> argv_len;
  argv.reserve(args.size());
  argv_len.reserve(args.size());
  for (std::string_view arg : args) {
    argv.push_back(arg.empty() ? "" : arg.data());
    argv_len.push_back(arg.size());
  }
  void* raw;
  int saved_errno;
  {
    SigpipeGuard guard(guard_sigpipe);
    raw = redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), argv_len.data());
    saved_errno = errno;
  }
  if (raw == nullptr) {
    // A socket timeout surfaces as EAGAIN's text, which hides what happened.
    const bool timed_out =
        context->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
    return absl::UnavailableError(
        absl::StrCat("redis unavailable: ", context->errstr, timed_out ? " (timed out)" : ""));
  }
  RedisReply reply = CopyReply(*static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

// A connection the server closed while it sat idle reads as EOF (or an error) without
// blocking; checking costs one syscall and spares the caller a failed command.
bool LooksAlive(const redisContext* context) {
  char byte;
  const ssize_t n = recv(context->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return false;  // EOF, or bytes nobody asked for: the stream is out of step.
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

absl::Status DeadlinePassed() {
  return absl::UnavailableError("redis unavailable: the call's deadline has passed");
}

}  // namespace

std::string SanitizeRedisError(absl::string_view text) {
  // Redis echoes the first arguments of an unknown command; those may be secrets.
  const size_t echo = text.find(", with args beginning with");
  if (echo != absl::string_view::npos) text = text.substr(0, echo);
  if (text.size() > kMaxErrorText) text = text.substr(0, kMaxErrorText);
  // Script errors can carry any bytes; keep log lines printable.
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (absl::ascii_isprint(static_cast<unsigned char>(c))) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

struct NodePool::Connection {
  redisContext* context = nullptr;
  absl::Duration timeout;  // the socket timeout set on it now
};

NodePool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::exchange(other.connection_, nullptr)) {}

NodePool::Lease::~Lease() {
  if (connection_ != nullptr) pool_->Release(connection_, connection_->context->err == 0);
}

absl::StatusOr<RedisReply> NodePool::Lease::RoundTrip(absl::Span<const std::string_view> args,
                                                      absl::Time deadline) {
  return pool_->Send(*connection_, args, deadline);
}

absl::StatusOr<RedisReply> NodePool::Send(Connection& connection,
                                          absl::Span<const std::string_view> args,
                                          absl::Time deadline) const {
  // The socket timeout is the command timeout, shortened for a call whose deadline is closer
  // (two setsockopt calls, only when it changes).
  absl::Duration timeout = options_.command_timeout;
  if (deadline != absl::InfiniteFuture()) {
    const absl::Duration left = deadline - absl::Now();
    if (left < absl::Milliseconds(1)) return DeadlinePassed();
    timeout = std::min(timeout, left);
  }
  // Whole milliseconds, so a deadline does not reset the socket's timeout at every call.
  timeout = absl::Floor(timeout, absl::Milliseconds(1));
  if (timeout != connection.timeout) {
    if (redisSetTimeout(connection.context, ToTimevalAtLeastMs(timeout)) != REDIS_OK) {
      connection.context->err = REDIS_ERR_IO;  // never reuse it
      return absl::UnavailableError("redis unavailable: cannot set the socket timeout");
    }
    connection.timeout = timeout;
  }
  return RunCommand(connection.context, args, guard_sigpipe_);
}

NodePool::NodePool(RedisNode node, const RedisOptions& options, bool guard_sigpipe)
    : node_(std::move(node)), options_(options), guard_sigpipe_(guard_sigpipe) {}

NodePool::~NodePool() {
  absl::MutexLock lock(&mu_);
  for (Connection* connection : idle_) {
    redisFree(connection->context);
    delete connection;
  }
}

bool NodePool::CanAcquire() const { return !idle_.empty() || open_ < options_.pool_size; }

absl::StatusOr<NodePool::Lease> NodePool::Acquire(absl::Time deadline, bool* unreachable) {
  if (unreachable != nullptr) *unreachable = false;
  const absl::Time wait_until = std::min(deadline, absl::Now() + options_.command_timeout);
  while (true) {
    Connection* connection = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithDeadline(absl::Condition(this, &NodePool::CanAcquire), wait_until)) {
        if (absl::Now() >= deadline) return DeadlinePassed();
        return absl::UnavailableError(
            "redis unavailable: no free connection within the command timeout");
      }
      if (!idle_.empty()) {
        connection = idle_.back();  // LIFO: the most recently used is the likeliest alive
        idle_.pop_back();
      } else {
        if (absl::Now() < no_connect_until_) {
          if (unreachable != nullptr) *unreachable = true;
          return last_connect_error_;
        }
        ++open_;  // Reserve the slot while connecting outside the lock.
      }
    }

    if (connection != nullptr) {
      if (LooksAlive(connection->context)) return Lease(this, connection);
      Release(connection, /*reusable=*/false);
      continue;
    }

    absl::StatusOr<Connection*> connected = Connect(deadline);
    if (!connected.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      // A connect cut short by the caller's deadline says nothing about the node.
      if (absl::Now() < deadline) {
        no_connect_until_ = absl::Now() + options_.reconnect_backoff;
        last_connect_error_ = connected.status();
        if (unreachable != nullptr) *unreachable = true;
      }
      return connected.status();
    }
    return Lease(this, *connected);
  }
}

void NodePool::Release(Connection* connection, bool reusable) {
  if (reusable) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(connection);
    return;
  }
  // Outside the lock: closing a socket need not hold up other callers.
  redisFree(connection->context);
  delete connection;
  absl::MutexLock lock(&mu_);
  --open_;
}

absl::StatusOr<NodePool::Connection*> NodePool::Connect(absl::Time deadline) const {
  absl::Duration connect_timeout = options_.connect_timeout;
  if (deadline != absl::InfiniteFuture()) {
    const absl::Duration left = deadline - absl::Now();
    if (left < absl::Milliseconds(1)) return DeadlinePassed();
    connect_timeout = std::min(connect_timeout, left);
  }
  redisContext* context = redisConnectWithTimeout(node_.host.c_str(), node_.port,
                                                  ToTimevalAtLeastMs(connect_timeout));
  if (context == nullptr) return absl::UnavailableError("redis unavailable: out of memory");
  auto* connection = new Connection{context, options_.command_timeout};
  auto fail = [connection](absl::Status status) {
    redisFree(connection->context);
    delete connection;
    return status;
  };
  if (context->err != 0 ||
      redisSetTimeout(context, ToTimevalAtLeastMs(options_.command_timeout)) != REDIS_OK ||
      redisEnableKeepAlive(context) != REDIS_OK) {
    return fail(absl::UnavailableError(absl::StrCat("redis unavailable: ", context->errstr)));
  }

  // Each step is named by its command only: AUTH's arguments are the credentials.
  const std::string db = absl::StrCat(options_.db);
  std::vector<std::pair<const char*, std::vector<std::string_view>>> steps;
  if (!options_.password.empty()) {
    if (options_.user.empty()) {
      steps.push_back({"AUTH", {"AUTH", options_.password}});
    } else {
      steps.push_back({"AUTH", {"AUTH", options_.user, options_.password}});
    }
  }
  if (options_.db != 0) steps.push_back({"SELECT", {"SELECT", db}});
  if (!options_.client_name.empty()) {
    steps.push_back({"CLIENT SETNAME", {"CLIENT", "SETNAME", options_.client_name}});
  }
  for (const auto& [name, args] : steps) {
    absl::StatusOr<RedisReply> reply = Send(*connection, args, deadline);
    if (!reply.ok()) return fail(reply.status());
    if (reply->IsError()) {
      return fail(absl::UnavailableError(
          absl::StrCat("redis unavailable: ", name, " failed: ", SanitizeRedisError(reply->str()))));
    }
  }
  return connection;
}

}  // namespace tally
