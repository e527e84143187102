#include "common/redis/redis_client.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace tally {
namespace {

constexpr absl::string_view kUrlForm = "expected redis://[[user]:password@]host[:port][/db]";
constexpr size_t kMaxErrorText = 512;

absl::Status InvalidUrl(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid redis URL: ", why));
}

bool AllDigits(absl::string_view s, size_t max_len) {
  return !s.empty() && s.size() <= max_len && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// URL credentials are %-encoded when they hold reserved characters such as '@' or ':'.
bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

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

bool SigpipeIgnored() {
  struct sigaction current = {};
  return sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
}

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

// Redis echoes the first arguments of an unknown command; those may be secrets.
std::string SanitizeErrorText(absl::string_view text) {
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

// Error replies that mean "this Redis cannot serve right now", not "your command is wrong".
bool IsTransientError(absl::string_view text) {
  const absl::string_view code = text.substr(0, text.find(' '));
  return code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "READONLY" ||
         code == "TRYAGAIN" || code == "CLUSTERDOWN";
}

absl::Status ErrorReplyToStatus(absl::string_view text, bool from_script) {
  const std::string clean = SanitizeErrorText(text);
  if (IsTransientError(text))
    return absl::UnavailableError(absl::StrCat("redis unavailable: ", clean));
  if (from_script) return absl::AbortedError(absl::StrCat("redis script error: ", clean));
  return absl::InternalError(absl::StrCat("redis error: ", clean));
}

// A connection the server closed while it sat idle reads as EOF (or an error) without
// blocking; checking costs one syscall and spares the caller a failed command.
bool LooksAlive(const redisContext* context) {
  char byte;
  const ssize_t n = recv(context->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return false;  // EOF, or bytes nobody asked for: the stream is out of step.
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

RedisOptions Sanitized(RedisOptions options) {
  options.pool_size = std::max(options.pool_size, 1);
  options.reconnect_backoff = std::max(options.reconnect_backoff, absl::ZeroDuration());
  return options;
}

}  // namespace

absl::StatusOr<RedisOptions> ParseRedisUrl(std::string_view url_in) {
  const absl::string_view url(url_in.data(), url_in.size());
  constexpr absl::string_view kScheme = "redis://";
  if (url.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return InvalidUrl(kUrlForm);
  }
  absl::string_view rest = url.substr(kScheme.size());
  RedisOptions options;

  // Host, port and db never hold '@', so the last one ends the credentials.
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) return InvalidUrl("credentials must be [user]:password");
    if (!PercentDecode(userinfo.substr(0, colon), &options.user) ||
        !PercentDecode(userinfo.substr(colon + 1), &options.password)) {
      return InvalidUrl("bad %-escape in credentials");
    }
    if (options.password.empty()) return InvalidUrl("empty password");
  }

  absl::string_view host_port = rest;
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    host_port = rest.substr(0, slash);
    const absl::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      if (!AllDigits(db, 9) || !absl::SimpleAtoi(db, &options.db))
        return InvalidUrl("bad db number");
    }
  }

  absl::string_view port;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return InvalidUrl("unterminated IPv6 address");
    const absl::string_view host = host_port.substr(1, close - 1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsIpv6Char)) {
      return InvalidUrl("bad IPv6 address");
    }
    options.host = std::string(host);
    const absl::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidUrl(kUrlForm);
      port = after.substr(1);
      if (port.empty()) return InvalidUrl("bad port");
    }
  } else {
    const size_t colon = host_port.find(':');
    const absl::string_view host = host_port.substr(0, colon);
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsHostChar)) {
      return InvalidUrl("bad host");
    }
    options.host = std::string(host);
    if (colon != absl::string_view::npos) {
      port = host_port.substr(colon + 1);
      if (port.empty()) return InvalidUrl("bad port");
    }
  }
  if (!port.empty()) {
    if (!AllDigits(port, 5) || !absl::SimpleAtoi(port, &options.port) || options.port < 1 ||
        options.port > 65535) {
      return InvalidUrl("bad port");
    }
  }
  return options;
}

RedisReply RedisReply::String(std::string value) {
  RedisReply reply(Type::kString);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Status(std::string value) {
  RedisReply reply(Type::kStatus);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Error(std::string value) {
  RedisReply reply(Type::kError);
  reply.str_ = std::move(value);
  return reply;
}

RedisReply RedisReply::Integer(int64_t value) {
  RedisReply reply(Type::kInteger);
  reply.integer_ = value;
  return reply;
}

RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply reply(Type::kArray);
  reply.elements_ = std::move(elements);
  return reply;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  // Only fails on allocation failure, after which nothing else would work either.
  if (EVP_Digest(source_.data(), source_.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1) {
    abort();
  }
  sha1_ =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

// Returns the connection to the pool when the scope ends, or closes it if hiredis flagged
// an error on it (after which its stream position is unknown).
class RedisClient::Lease {
 public:
  Lease(RedisClient* client, redisContext* context) : client_(client), context_(context) {}
  ~Lease() { client_->Release(context_, context_->err == 0); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  redisContext* get() const { return context_; }

 private:
  RedisClient* client_;
  redisContext* context_;
};

RedisClient::RedisClient(RedisOptions options)
    : options_(Sanitized(std::move(options))), guard_sigpipe_(!SigpipeIgnored()) {}

RedisClient::~RedisClient() {
  absl::MutexLock lock(&mu_);
  for (redisContext* context : idle_) redisFree(context);
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("redis command has no arguments");
  const std::vector<std::string_view> views(args.begin(), args.end());
  absl::StatusOr<redisContext*> context = Acquire();
  if (!context.ok()) return context.status();
  Lease lease(this, *context);
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<RedisReply> reply = RunCommand(lease.get(), views, guard_sigpipe_);
  if (reply.ok() && reply->IsError()) return ErrorReplyToStatus(reply->str(), false);
  return reply;
}

absl::StatusOr<RedisReply> RedisClient::Eval(const RedisScript& script,
                                             const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args) {
  const std::string num_keys = absl::StrCat(keys.size());
  std::vector<std::string_view> argv = {"EVALSHA", script.sha1(), num_keys};
  argv.reserve(argv.size() + keys.size() + args.size());
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());

  absl::StatusOr<redisContext*> context = Acquire();
  if (!context.ok()) return context.status();
  Lease lease(this, *context);
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<RedisReply> reply = RunCommand(lease.get(), argv, guard_sigpipe_);
  // The script cache is empty after a restart, failover or SCRIPT FLUSH; EVAL refills it.
  if (reply.ok() && reply->IsError() && absl::StartsWith(reply->str(), "NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = script.source();
    round_trips_.fetch_add(1, std::memory_order_relaxed);
    script_reloads_.fetch_add(1, std::memory_order_relaxed);
    reply = RunCommand(lease.get(), argv, guard_sigpipe_);
  }
  if (reply.ok() && reply->IsError()) return ErrorReplyToStatus(reply->str(), true);
  return reply;
}

absl::Status RedisClient::Ping() {
  absl::StatusOr<RedisReply> reply = Command({"PING"});
  if (!reply.ok()) return reply.status();
  if (!reply->IsStatus() || reply->str() != "PONG") {
    return absl::InternalError("redis error: unexpected PING reply");
  }
  return absl::OkStatus();
}

bool RedisClient::CanAcquire() const { return !idle_.empty() || open_ < options_.pool_size; }

absl::StatusOr<redisContext*> RedisClient::Acquire() {
  const absl::Time deadline = absl::Now() + options_.command_timeout;
  while (true) {
    redisContext* context = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithDeadline(absl::Condition(this, &RedisClient::CanAcquire), deadline)) {
        return absl::UnavailableError(
            "redis unavailable: no free connection within the command timeout");
      }
      if (!idle_.empty()) {
        context = idle_.back();  // LIFO: the most recently used connection is the likeliest alive
        idle_.pop_back();
      } else {
        if (absl::Now() < no_connect_until_) return last_connect_error_;
        ++open_;  // Reserve the slot while connecting outside the lock.
      }
    }

    if (context != nullptr) {
      if (LooksAlive(context)) return context;
      Release(context, /*reusable=*/false);
      continue;
    }

    absl::StatusOr<redisContext*> connected = Connect();
    if (!connected.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      no_connect_until_ = absl::Now() + options_.reconnect_backoff;
      last_connect_error_ = connected.status();
    }
    return connected;
  }
}

void RedisClient::Release(redisContext* context, bool reusable) {
  if (reusable) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(context);
    return;
  }
  redisFree(context);  // Outside the lock: closing a socket need not hold up other callers.
  absl::MutexLock lock(&mu_);
  --open_;
}

absl::StatusOr<redisContext*> RedisClient::Connect() const {
  redisContext* context = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                                  ToTimevalAtLeastMs(options_.connect_timeout));
  if (context == nullptr) return absl::UnavailableError("redis unavailable: out of memory");
  auto fail = [context](absl::Status status) {
    redisFree(context);
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
    absl::StatusOr<RedisReply> reply = RunCommand(context, args, guard_sigpipe_);
    if (!reply.ok()) return fail(reply.status());
    if (reply->IsError()) {
      return fail(absl::UnavailableError(
          absl::StrCat("redis unavailable: ", name, " failed: ", SanitizeErrorText(reply->str()))));
    }
  }
  return context;
}

}  // namespace tally
