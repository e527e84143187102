#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
// All of pqxx, not just connection and transaction: every Transact body reads results, and
// pqxx 6 only forward-declares their iterators in the narrower headers.
#include <pqxx/pqxx>

namespace tally {

struct PgOptions {
  // libpq URI (postgresql://user@host:5432/db?...) or key=value conninfo. It may hold a
  // password: it is never put in a Status message or a log.
  std::string url;
  // Upper bound of open connections. Values < 1 are treated as 1.
  int pool_size = 4;
  // Passed to libpq as connect_timeout (whole seconds, rounded up; libpq's minimum is 2).
  absl::Duration connect_timeout = absl::Seconds(3);
  // Server-side statement_timeout of every pooled connection; <= 0 disables it.
  absl::Duration statement_timeout = absl::Seconds(5);
  // How long a caller waits for a free connection when all pool_size are in use.
  absl::Duration acquire_timeout = absl::Seconds(3);
};

// Maps a libpqxx (or any) exception to a Status. Messages carry at most the SQLSTATE, never
// the server's text (it can quote row values) nor the query:
//   broken_connection (incl. 53300 too_many_connections), SQLSTATE class 08, class 53
//   (insufficient resources), 57P01/57P02/57P03      -> UNAVAILABLE "postgres unavailable"
//   23505 unique_violation                            -> ALREADY_EXISTS
//   other class 23 (check, foreign key, not null...)  -> FAILED_PRECONDITION
//   class 40 (40001 serialization, 40P01 deadlock), 55P03 lock_not_available -> ABORTED
//   57014 query_canceled (statement_timeout)          -> DEADLINE_EXCEEDED
//   in_doubt_error (connection lost during COMMIT)    -> UNKNOWN (may or may not be committed)
//   anything else                                     -> INTERNAL "postgres error"
// DEADLINE_EXCEEDED rather than UNAVAILABLE for 57014: the database is up, this statement was
// too slow (or waited too long on a lock), and blind retries would add load where it hurts.
absl::Status PgErrorToStatus(const std::exception& e);

// The conninfo handed to libpq: `options.url` plus connect_timeout and statement_timeout
// (later keys win in libpq, so these override the URL's). Exposed for tests.
std::string BuildPgConnInfo(const PgOptions& options);

// Runs `sql` as the named prepared statement `name` of `tx`'s connection: PostgreSQL parses
// and plans it once per connection instead of at every call (pqxx prepares it at its first
// use; defining it again with the same text is a no-op). For hot statements with explicit
// column lists. A plan that a migration invalidated (SQLSTATE 0A000, "cached plan must not
// change result type") makes the pool drop its connections: see PgPool::Read.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& sql, Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

// A thread-safe pool of PostgreSQL connections.
//
// Construction never connects and never fails: a service starts while PostgreSQL is down and
// reports NOT_SERVING until Ping() succeeds. Connections are opened lazily, outside the pool
// lock, and a connection that broke is discarded (with every idle one, which most likely
// died with it: a restart or failover kills them all) and never reused.
//
// The pool must outlive every call into it.
class PgPool {
 public:
  explicit PgPool(PgOptions options);
  ~PgPool();

  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `fn` in one read-committed transaction; commits if it returns OK, rolls back
  // otherwise (its Status is returned as is). Exceptions thrown by `fn` or by libpqxx are
  // caught and mapped by PgErrorToStatus. `fn` runs at most once: a stale pooled connection
  // found dead at BEGIN is replaced transparently, but once `fn` ran nothing is retried
  // (ABORTED from a serialization failure or deadlock is the caller's to retry).
  //
  // `fn` must let pqxx exceptions propagate: after a failed statement PostgreSQL turns the
  // COMMIT of the aborted transaction into a silent ROLLBACK.
  absl::Status Transact(absl::FunctionRef<absl::Status(pqxx::work&)> fn);

  // Transact for a result: pool.TransactFor<int64_t>([&](pqxx::work& w)
  //     -> absl::StatusOr<int64_t> { ... });
  template <typename T>
  absl::StatusOr<T> TransactFor(absl::FunctionRef<absl::StatusOr<T>(pqxx::work&)> fn) {
    std::optional<T> out;
    absl::Status status = Transact([&](pqxx::work& w) -> absl::Status {
      absl::StatusOr<T> result = fn(w);
      if (!result.ok()) return result.status();
      out.emplace(*std::move(result));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return *std::move(out);
  }

  // Runs `fn` outside a transaction: each statement commits on its own, and a one-statement
  // read is one round trip instead of three (BEGIN, the statement, COMMIT). A pooled
  // connection found dead, or whose prepared plans a migration invalidated, is replaced and
  // `fn` run once more, so `fn` must be safe to repeat, and statements that must see one
  // snapshot belong in Transact. Errors are mapped as in Transact.
  absl::Status Read(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn);

  // Read's mechanics for a write of one idempotent statement: one that, run twice, leaves the
  // rows and its answer as running it once does. Then a statement whose reply was lost with
  // its connection, committed or not, is safely run again, and needs no BEGIN and COMMIT.
  absl::Status WriteIdempotent(absl::FunctionRef<absl::Status(pqxx::nontransaction&)> fn) {
    return Read(fn);
  }

  // Read for a result, like TransactFor.
  template <typename T>
  absl::StatusOr<T> ReadFor(absl::FunctionRef<absl::StatusOr<T>(pqxx::nontransaction&)> fn) {
    std::optional<T> out;
    absl::Status status = Read([&](pqxx::nontransaction& tx) -> absl::Status {
      absl::StatusOr<T> result = fn(tx);
      if (!result.ok()) return result.status();
      out.emplace(*std::move(result));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return *std::move(out);
  }

  // SELECT 1 outside a transaction, for health checks.
  absl::Status Ping();

 private:
  // A connection with a notice handler that drops server notices (libpq would print them to
  // stderr, and a NOTICE can quote data). Members destroyed bottom-up: handler first.
  struct Conn;
  using Body = absl::FunctionRef<void(pqxx::connection&, bool& ran_user_code)>;

  absl::Status Run(Body body);
  // A pooled connection (`*reused` = true) or a fresh one, waiting at most acquire_timeout.
  absl::StatusOr<std::unique_ptr<Conn>> Acquire(bool* reused);
  // Returns `conn` to the idle list, or closes it when `healthy` is false or it is no longer
  // open (a broken connection is never reused).
  void Release(std::unique_ptr<Conn> conn, bool healthy);
  // Closes every idle connection (after one of their siblings was found broken).
  void DiscardIdle();

  const PgOptions options_;
  const std::string conninfo_;
  const int pool_size_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  // Connections handed out or being opened; leased_ + idle_.size() <= pool_size_.
  int leased_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tally
