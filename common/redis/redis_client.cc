#include "common/redis/redis_client.h"

#include <openssl/evp.h>
#include <signal.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "common/redis/cluster_router.h"
#include "common/redis/key_slot.h"
#include "common/redis/node_pool.h"
#include "common/util/deadline.h"

namespace tally {
namespace {

constexpr absl::string_view kUrlForm = "expected redis://[[user]:password@]host[:port][/db]";
// Redirections one call follows in a row at most: a slot that keeps moving is a cluster in
// trouble.
constexpr int kMaxRedirections = 5;
// Pauses between retries in cluster mode: short at first (a TRYAGAIN clears in milliseconds),
// growing while a failover takes seconds.
constexpr absl::Duration kFirstRetryPause = absl::Milliseconds(10);
constexpr absl::Duration kMaxRetryPause = absl::Milliseconds(200);

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

// The first word of an error reply: its code.
absl::string_view ErrorCode(absl::string_view text) { return text.substr(0, text.find(' ')); }

// Error replies that mean "this Redis cannot serve right now", not "your command is wrong".
bool IsTransientError(absl::string_view text) {
  const absl::string_view code = ErrorCode(text);
  return code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "READONLY" ||
         code == "TRYAGAIN" || code == "CLUSTERDOWN" || code == "MOVED" || code == "ASK";
}

absl::Status ErrorReplyToStatus(absl::string_view text, bool from_script) {
  const std::string clean = SanitizeRedisError(text);
  if (IsTransientError(text))
    return absl::UnavailableError(absl::StrCat("redis unavailable: ", clean));
  if (from_script) return absl::AbortedError(absl::StrCat("redis script error: ", clean));
  return absl::InternalError(absl::StrCat("redis error: ", clean));
}

RedisOptions Sanitized(RedisOptions options) {
  options.pool_size = std::max(options.pool_size, 1);
  options.reconnect_backoff = std::max(options.reconnect_backoff, absl::ZeroDuration());
  options.min_replica_acks = std::max(options.min_replica_acks, 0);
  return options;
}

bool SigpipeIgnored() {
  struct sigaction current = {};
  return sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
}

}  // namespace

// How an attempt failed, which decides whether another may follow.
enum class RedisClient::Failure {
  kNone,
  kUnreachable,  // the node could not be reached; nothing was sent
  kNotSent,      // nothing was sent (no free connection, the deadline passed)
  kMaybeSent,    // the command may have run: never send it again
};

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

struct RedisClient::Call {
  // The command, or EVALSHA sha1 numkeys keys... args... for a script.
  std::vector<std::string_view> argv;
  const RedisScript* script = nullptr;
  int slot = kAnySlot;
  RedisDurability durability = RedisDurability::kPrimary;
};

RedisClient::RedisClient(RedisOptions options)
    : options_(Sanitized(std::move(options))), guard_sigpipe_(!SigpipeIgnored()) {
  if (cluster()) {
    router_ = std::make_unique<ClusterRouter>(options_, guard_sigpipe_);
  } else {
    node_ = std::make_unique<NodePool>(RedisNode{options_.host, options_.port}, options_,
                                       guard_sigpipe_);
  }
}

RedisClient::~RedisClient() = default;

int64_t RedisClient::slot_map_loads() const {
  return router_ == nullptr ? 0 : router_->map_loads();
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args,
                                                RedisDurability durability) {
  if (args.empty()) return absl::InvalidArgumentError("redis command has no arguments");
  Call call;
  call.argv.assign(args.begin(), args.end());
  call.durability = durability;
  if (cluster()) {
    const std::vector<absl::string_view> keys = CommandKeys(args);
    absl::StatusOr<int> slot = SlotOfKeys(keys);
    if (!slot.ok()) return slot.status();
    call.slot = *slot;
  }
  return Run(call);
}

absl::StatusOr<RedisReply> RedisClient::Eval(const RedisScript& script,
                                             const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args,
                                             RedisDurability durability) {
  const std::string num_keys = absl::StrCat(keys.size());
  Call call;
  call.argv = {"EVALSHA", script.sha1(), num_keys};
  call.argv.reserve(call.argv.size() + keys.size() + args.size());
  call.argv.insert(call.argv.end(), keys.begin(), keys.end());
  call.argv.insert(call.argv.end(), args.begin(), args.end());
  call.script = &script;
  call.durability = durability;
  if (cluster()) {
    const std::vector<absl::string_view> key_views(keys.begin(), keys.end());
    absl::StatusOr<int> slot = SlotOfKeys(key_views);
    if (!slot.ok()) return slot.status();
    call.slot = *slot;
  }
  return Run(call);
}

absl::Status RedisClient::Ping() {
  auto pong = [](const absl::StatusOr<RedisReply>& reply) {
    if (!reply.ok()) return reply.status();
    if (reply->IsError()) return ErrorReplyToStatus(reply->str(), false);
    if (!reply->IsStatus() || reply->str() != "PONG") {
      return absl::InternalError("redis error: unexpected PING reply");
    }
    return absl::OkStatus();
  };
  if (!cluster()) return pong(Command({"PING"}));
  // A cluster serves as long as one primary answers: while one shard fails over, its
  // directories get UNAVAILABLE call by call, and the others must not lose every replica of
  // the service to a readiness probe.
  const absl::Time deadline = CurrentDeadline();
  const absl::Time retry_until = std::min(deadline, absl::Now() + options_.retry_timeout);
  uint64_t epoch = 0;
  absl::StatusOr<std::shared_ptr<NodePool>> any =
      router_->PrimaryFor(kAnySlot, retry_until, &epoch);
  if (!any.ok()) return any.status();
  Call call;
  call.argv = {"PING"};
  absl::Status last;
  for (const std::shared_ptr<NodePool>& primary : router_->Primaries()) {
    Failure failure;
    last = pong(Attempt(*primary, call, false, deadline, &failure));
    if (last.ok()) return last;
  }
  router_->Refresh(epoch, retry_until);
  return last;
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::CommandOnEveryPrimary(
    const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("redis command has no arguments");
  if (!cluster()) {
    absl::StatusOr<RedisReply> reply = Command(args);
    if (!reply.ok()) return reply.status();
    return std::vector<RedisReply>{*std::move(reply)};
  }
  const absl::Time deadline = CurrentDeadline();
  uint64_t epoch = 0;
  absl::StatusOr<std::shared_ptr<NodePool>> any = router_->PrimaryFor(
      kAnySlot, std::min(deadline, absl::Now() + options_.retry_timeout), &epoch);
  if (!any.ok()) return any.status();
  Call call;
  call.argv.assign(args.begin(), args.end());
  std::vector<RedisReply> replies;
  for (const std::shared_ptr<NodePool>& primary : router_->Primaries()) {
    Failure failure;
    absl::StatusOr<RedisReply> reply = Attempt(*primary, call, false, deadline, &failure);
    if (!reply.ok()) return reply.status();
    if (reply->IsError()) return ErrorReplyToStatus(reply->str(), false);
    replies.push_back(*std::move(reply));
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisClient::Run(const Call& call) {
  const absl::Time deadline = CurrentDeadline();
  if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
    return absl::UnavailableError("redis unavailable: the call's deadline has passed");
  }
  if (cluster()) {
    return RunInCluster(call, deadline);
  }
  Failure failure;
  absl::StatusOr<RedisReply> reply = Attempt(*node_, call, false, deadline, &failure);
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) {
    if (ParseRedirect(reply->str(), node_->node()).has_value()) {
      return absl::UnavailableError(absl::StrCat(
          "redis unavailable: ", SanitizeRedisError(reply->str()),
          " (this Redis is a Redis Cluster node: connect in cluster mode)"));
    }
    return ErrorReplyToStatus(reply->str(), call.script != nullptr);
  }
  return reply;
}

absl::StatusOr<RedisReply> RedisClient::RunInCluster(const Call& call, absl::Time deadline) {
  // Round trips run to the call's deadline (a blocking XREADGROUP may take its command
  // timeout); the retries stop at retry_timeout or at that deadline, whichever comes first.
  const absl::Time retry_until = std::min(deadline, absl::Now() + options_.retry_timeout);
  absl::Duration pause = kFirstRetryPause;
  int redirections = 0;
  uint64_t epoch = 0;
  std::shared_ptr<NodePool> ask;  // the node an ASK named, for the next attempt only
  absl::Status last;
  while (true) {
    std::shared_ptr<NodePool> pool = std::move(ask);
    const bool asking = pool != nullptr;
    bool refresh = false;
    if (pool == nullptr) {
      absl::StatusOr<std::shared_ptr<NodePool>> primary =
          router_->PrimaryFor(call.slot, retry_until, &epoch);
      if (primary.ok()) pool = *std::move(primary);
      else last = primary.status();
    }
    if (pool != nullptr) {
      Failure failure = Failure::kNone;
      absl::StatusOr<RedisReply> reply = Attempt(*pool, call, asking, deadline, &failure);
      if (reply.ok() && !reply->IsError()) return reply;
      if (!reply.ok()) {
        // Only a node that could not be reached is worth another try: a command that may have
        // run must not run twice, and a full pool or a passed deadline will not get better.
        if (failure != Failure::kUnreachable) return reply.status();
        last = reply.status();
        redirections = 0;
        refresh = true;  // its replica may have taken over
      } else if (std::optional<Redirect> redirect = ParseRedirect(reply->str(), pool->node())) {
        redirections_.fetch_add(1, std::memory_order_relaxed);
        if (++redirections > kMaxRedirections) {
          return absl::UnavailableError(
              absl::StrCat("redis unavailable: more than ", kMaxRedirections,
                           " redirections for one command (", SanitizeRedisError(reply->str()),
                           ")"));
        }
        if (redirect->ask) {
          ask = router_->PoolFor(redirect->node);
        } else {
          router_->Moved(redirect->slot, redirect->node);
          router_->Refresh(epoch, retry_until);
        }
        continue;  // at once: the cluster said where to go
      } else {
        const absl::string_view code = ErrorCode(reply->str());
        if (code != "TRYAGAIN" && code != "CLUSTERDOWN" && code != "LOADING" &&
            code != "MASTERDOWN" && code != "READONLY") {
          return ErrorReplyToStatus(reply->str(), call.script != nullptr);
        }
        last = ErrorReplyToStatus(reply->str(), call.script != nullptr);
        redirections = 0;  // an ASK then a TRYAGAIN is progress of a migration, not a loop
        // A replica answered (READONLY, MASTERDOWN) or slots lost their primary (CLUSTERDOWN):
        // the map is stale. A migrating slot (TRYAGAIN) or a loading node only needs time.
        refresh = code != "TRYAGAIN" && code != "LOADING";
      }
    }
    if (refresh) router_->Refresh(epoch, retry_until);
    if (absl::Now() + pause >= retry_until) {
      return absl::UnavailableError(absl::StrCat(last.message(), " (retried for ",
                                                 absl::FormatDuration(options_.retry_timeout),
                                                 " or until the call's deadline)"));
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, kMaxRetryPause);
  }
}

absl::StatusOr<RedisReply> RedisClient::Attempt(NodePool& pool, const Call& call, bool asking,
                                                absl::Time deadline, Failure* failure) {
  bool unreachable = false;
  absl::StatusOr<NodePool::Lease> lease = pool.Acquire(deadline, &unreachable);
  if (!lease.ok()) {
    *failure = unreachable ? Failure::kUnreachable : Failure::kNotSent;
    return lease.status();
  }
  auto round_trip = [&](absl::Span<const std::string_view> argv) {
    round_trips_.fetch_add(1, std::memory_order_relaxed);
    return lease->RoundTrip(argv, deadline);
  };
  const std::vector<std::string_view> asking_command = {"ASKING"};
  // ASKING holds for the next command only: sent again before an EVAL after NOSCRIPT.
  auto send = [&](absl::Span<const std::string_view> argv) -> absl::StatusOr<RedisReply> {
    if (asking) {
      absl::StatusOr<RedisReply> asked = round_trip(asking_command);
      if (!asked.ok() || asked->IsError()) return asked;
    }
    return round_trip(argv);
  };

  absl::StatusOr<RedisReply> reply = send(call.argv);
  // The script cache is empty after a restart, failover or SCRIPT FLUSH; EVAL refills it.
  if (call.script != nullptr && reply.ok() && reply->IsError() &&
      absl::StartsWith(reply->str(), "NOSCRIPT")) {
    std::vector<std::string_view> eval = call.argv;
    eval[0] = "EVAL";
    eval[1] = call.script->source();
    script_reloads_.fetch_add(1, std::memory_order_relaxed);
    reply = send(eval);
  }
  *failure = Failure::kMaybeSent;
  if (!reply.ok() || reply->IsError()) return reply;
  if (call.durability != RedisDurability::kReplicated || options_.min_replica_acks == 0) {
    *failure = Failure::kNone;
    return reply;
  }

  // WAIT counts the replicas that have this connection's writes so far: so on this connection,
  // right after the write. Its timeout leaves room for the reply within the deadline.
  absl::Duration left = options_.command_timeout;
  if (deadline != absl::InfiniteFuture()) left = std::min(left, deadline - absl::Now());
  const int64_t wait_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(left) * 4 / 5);
  const std::string wanted = absl::StrCat(options_.min_replica_acks);
  const std::string timeout = absl::StrCat(wait_ms);
  const std::vector<std::string_view> wait = {"WAIT", wanted, timeout};
  replica_waits_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<RedisReply> acks = round_trip(wait);
  if (!acks.ok()) return acks.status();
  if (!acks->IsInteger()) {
    return absl::UnavailableError(absl::StrCat(
        "redis unavailable: WAIT failed: ",
        acks->IsError() ? SanitizeRedisError(acks->str()) : std::string("unexpected reply")));
  }
  if (acks->integer() < options_.min_replica_acks) {
    return absl::UnavailableError(absl::StrCat(
        "redis unavailable: the write reached ", acks->integer(), " of the ",
        options_.min_replica_acks, " replicas it must reach within ", wait_ms, " ms"));
  }
  *failure = Failure::kNone;
  return reply;
}

}  // namespace tally
