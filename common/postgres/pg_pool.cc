#include "common/postgres/pg_pool.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <pqxx/errorhandler>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tally {
namespace {

constexpr char kUnavailable[] = "postgres unavailable";

absl::Status Unavailable(const std::string& sqlstate) {
  if (sqlstate.empty()) return absl::UnavailableError(kUnavailable);
  return absl::UnavailableError(absl::StrCat(kUnavailable, " (SQLSTATE ", sqlstate, ")"));
}

bool IsUriConnInfo(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// Percent-encodes a URI query value (RFC 3986 unreserved characters pass through).
std::string UriEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// Quotes a key=value conninfo value: single quotes, with ' and \ escaped by a backslash.
std::string ConnInfoQuote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// Drops server notices and warnings: pqxx would forward them to stderr, and a NOTICE (or a
// RAISE in a function) can quote row data.
class QuietNotices final : public pqxx::errorhandler {
 public:
  explicit QuietNotices(pqxx::connection_base& conn) : pqxx::errorhandler(conn) {}
  bool operator()(const char*) noexcept override { return false; }
};

}  // namespace

struct PgPool::Conn {
  explicit Conn(const std::string& conninfo) : conn(conninfo), quiet(conn) {}

  pqxx::connection conn;
  QuietNotices quiet;
};

absl::Status PgErrorToStatus(const std::exception& e) {
  // Connection-level failures first: in libpqxx 6 they are not sql_errors and carry no
  // SQLSTATE (SQLSTATE class 08 and 53300 are thrown as broken_connection).
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return Unavailable("");
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnknownError("postgres connection lost during commit; outcome unknown");
  }
  // serialization_failure (40001) and deadlock_detected (40P01) derive from it.
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(
        "postgres transaction rolled back (serialization failure or "
        "deadlock)");
  }
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return absl::InternalError("postgres error");

  const std::string& state = sql->sqlstate();
  if (state.size() != 5) return absl::InternalError("postgres error");
  const std::string_view cls = std::string_view(state).substr(0, 2);
  if (cls == "08" || cls == "53" || state == "57P01" || state == "57P02" || state == "57P03") {
    return Unavailable(state);
  }
  if (state == "23505") {
    return absl::AlreadyExistsError("postgres unique violation (SQLSTATE 23505)");
  }
  if (cls == "23") {
    return absl::FailedPreconditionError(
        absl::StrCat("postgres integrity constraint violation (SQLSTATE ", state, ")"));
  }
  if (cls == "40" || state == "55P03") {
    return absl::AbortedError(absl::StrCat("postgres transaction aborted (SQLSTATE ", state, ")"));
  }
  if (state == "57014") {
    return absl::DeadlineExceededError("postgres statement timeout (SQLSTATE 57014)");
  }
  return absl::InternalError(absl::StrCat("postgres error (SQLSTATE ", state, ")"));
}

std::string BuildPgConnInfo(const PgOptions& options) {
  // libpq takes whole seconds; round up so a sub-second setting never means "wait forever".
  const int64_t connect_s = std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(options.connect_timeout, absl::Seconds(1))));
  std::vector<std::pair<std::string, std::string>> params = {
      {"connect_timeout", absl::StrCat(connect_s)}};
  if (options.statement_timeout > absl::ZeroDuration()) {
    // A startup option rather than a SET after connecting: it holds for the whole session
    // and costs no round trip. Sub-millisecond values round up, 0 would disable it.
    const int64_t ms = std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(options.statement_timeout, absl::Milliseconds(1))));
    params.emplace_back("options", absl::StrCat("-c statement_timeout=", ms));
  }

  std::string out = options.url;
  if (IsUriConnInfo(out)) {
    // The URI may already carry a query string (and end with its separator).
    char sep = out.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [key, value] : params) {
      if (out.back() != '?' && out.back() != '&') out.push_back(sep);
      absl::StrAppend(&out, key, "=", UriEncode(value));
      sep = '&';
    }
  } else {
    for (const auto& [key, value] : params) {
      if (!out.empty()) out.push_back(' ');
      absl::StrAppend(&out, key, "=", ConnInfoQuote(value));
    }
  }
  return out;
}

PgPool::PgPool(PgOptions options)
    : options_(std::move(options)),
      conninfo_(BuildPgConnInfo(options_)),
      pool_size_(std::max(1, options_.pool_size)) {}

PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<PgPool::Conn>> PgPool::Acquire(bool* reused) {
  {
    absl::MutexLock lock(&mu_);
    // leased_ < pool_size_ also holds whenever a connection is idle.
    auto can_lease = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return leased_ < pool_size_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_lease),
                              std::max(options_.acquire_timeout, absl::ZeroDuration()))) {
      return absl::UnavailableError(
          absl::StrCat(kUnavailable, ": no free connection within acquire timeout"));
    }
    ++leased_;
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return conn;
    }
  }
  // Connect with the slot reserved but the lock released: a database that is down (connect
  // timing out) must not serialize every caller behind one connection attempt.
  *reused = false;
  try {
    return std::make_unique<Conn>(conninfo_);
  } catch (const std::exception& e) {
    absl::MutexLock lock(&mu_);
    --leased_;
    // Whatever libpq reported (bad URL, refused, auth failed), the database is not usable.
    absl::Status status = PgErrorToStatus(e);
    return absl::IsUnavailable(status) ? status : Unavailable("");
  } catch (...) {
    absl::MutexLock lock(&mu_);
    --leased_;
    return Unavailable("");
  }
}

void PgPool::Release(std::unique_ptr<Conn> conn, bool healthy) {
  if (healthy && conn->conn.is_open()) {
    absl::MutexLock lock(&mu_);
    --leased_;
    idle_.push_back(std::move(conn));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    --leased_;
  }
  // Closing may talk to the server; do it without the lock.
  conn.reset();
}

void PgPool::DiscardIdle() {
  std::vector<std::unique_ptr<Conn>> doomed;
  {
    absl::MutexLock lock(&mu_);
    doomed.swap(idle_);
  }
  // Destroyed here, outside the lock.
}

absl::Status PgPool::Run(Body body) {
  // At most two attempts: the second only when a pooled connection turned out dead before
  // any user code ran (or during a Read, which is safe to repeat), so nothing that writes can
  // have been executed twice.
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    absl::StatusOr<std::unique_ptr<Conn>> conn = Acquire(&reused);
    if (!conn.ok()) return conn.status();

    bool ran_user_code = false;
    bool broken = false;
    absl::Status status;
    try {
      body((*conn)->conn, ran_user_code);
    } catch (const pqxx::broken_connection& e) {
      broken = true;
      status = PgErrorToStatus(e);
    } catch (const pqxx::in_doubt_error& e) {
      broken = true;
      status = PgErrorToStatus(e);
    } catch (const pqxx::feature_not_supported& e) {
      // 0A000, in practice "cached plan must not change result type": a migration changed a
      // table under this connection's prepared statements, and every pooled connection has
      // the same stale plans. Dropping them makes the next use prepare afresh.
      broken = true;
      status = PgErrorToStatus(e);
    } catch (const std::exception& e) {
      status = PgErrorToStatus(e);
    } catch (...) {
      status = absl::InternalError("postgres error: unknown exception");
    }
    // A server-side error leaves the connection usable, but if it also closed, the cause
    // was the connection: report UNAVAILABLE, not whatever the last statement saw.
    if (!broken && !status.ok() && !(*conn)->conn.is_open()) {
      broken = true;
      if (!absl::IsUnknown(status)) status = Unavailable("");
    }
    Release(*std::move(conn), !broken);
    if (!broken) return status;

    DiscardIdle();
    if (!reused || ran_user_code || attempt > 0) return status;
  }
}

absl::Status PgPool::Transact(absl::FunctionRef<absl::Status(pqxx::work&)> fn) {
  absl::Status result;
  absl::Status run = Run([&](pqxx::connection& conn, bool& ran_user_code) {
    pqxx::work work(conn);
    ran_user_code = true;
    result = fn(work);
    if (result.ok()) work.commit();
    // Otherwise ~work rolls back.
  });
  return run.ok() ? result : run;
}

absl::Status PgPool::Read(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn) {
  absl::Status result;
  // ran_user_code stays false: a read that met a dead pooled connection may run again.
  absl::Status run = Run([&](pqxx::connection& conn, bool&) {
    pqxx::nontransaction tx(conn);
    result = fn(tx);
  });
  return run.ok() ? result : run;
}

absl::Status PgPool::Ping() {
  return Run([](pqxx::connection& conn, bool&) {
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT 1");
  });
}

}  // namespace tally
