// Runs against a real PostgreSQL: TALLY_TEST_POSTGRES_URL, e.g.
// postgresql://postgres@127.0.0.1:5499/postgres. Every test works in its own randomly named
// schema (dropped at the end), so the suite can share one server with parallel runs.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/postgres/migrations.h"
#include "common/postgres/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUrlEnv[] = "TALLY_TEST_POSTGRES_URL";

std::string RandomSuffix() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  absl::BitGen gen;
  std::string out;
  for (int i = 0; i < 12; ++i) out.push_back(kAlphabet[absl::Uniform(gen, 0, 36)]);
  return out;
}

std::string WithApplicationName(const std::string& url, const std::string& name) {
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return absl::StrCat(url, url.find('?') == std::string::npos ? "?" : "&",
                        "application_name=", name);
  }
  return absl::StrCat(url, " application_name=", name);
}

absl::StatusOr<int64_t> QueryInt(PgPool& pool, const std::string& sql) {
  return pool.TransactFor<int64_t>(
      [&](pqxx::work& w) -> absl::StatusOr<int64_t> { return w.exec1(sql)[0].as<int64_t>(); });
}

class PgIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv(kUrlEnv);
    if (url == nullptr || *url == '\0') {
      GTEST_FAIL() << kUrlEnv << " is not set: point it at a disposable PostgreSQL server, "
                   << "e.g. postgresql://postgres@127.0.0.1:5499/postgres";
    }
    url_ = url;
    suffix_ = RandomSuffix();
    schema_ = "pgit_" + suffix_;
    admin_ = NewPool("admin", 2);
    ASSERT_EQ(admin_->Ping(), absl::OkStatus()) << "cannot reach " << kUrlEnv;
  }

  void TearDown() override {
    if (admin_ == nullptr) return;
    EXPECT_EQ(admin_->Transact([&](pqxx::work& w) {
      w.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      return absl::OkStatus();
    }),
              absl::OkStatus());
  }

  // A pool whose backends carry application_name pgit_<suffix>_<tag>, so a test can find
  // (and kill) them in pg_stat_activity.
  std::unique_ptr<PgPool> NewPool(const std::string& tag, int size,
                                  absl::Duration statement_timeout = absl::Seconds(5),
                                  absl::Duration acquire_timeout = absl::Seconds(30)) {
    PgOptions o;
    o.url = WithApplicationName(url_, AppName(tag));
    o.pool_size = size;
    o.statement_timeout = statement_timeout;
    o.acquire_timeout = acquire_timeout;
    return std::make_unique<PgPool>(o);
  }

  std::string AppName(const std::string& tag) const { return "pgit_" + suffix_ + "_" + tag; }

  int64_t BackendCount(const std::string& tag) {
    absl::StatusOr<int64_t> n =
        QueryInt(*admin_, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                              AppName(tag) + "'");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  // Terminates every backend of the pool tagged `tag` and waits until they are gone.
  void KillBackends(const std::string& tag) {
    absl::StatusOr<int64_t> killed =
        QueryInt(*admin_,
                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE application_name = '" +
                     AppName(tag) + "'");
    ASSERT_TRUE(killed.ok()) << killed.status();
    ASSERT_GT(*killed, 0);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (BackendCount(tag) > 0) {
      ASSERT_LT(absl::Now(), deadline) << "backends of " << AppName(tag) << " did not exit";
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  std::vector<int> AppliedVersions() {
    absl::StatusOr<std::vector<int>> v = admin_->TransactFor<std::vector<int>>(
        [&](pqxx::work& w) -> absl::StatusOr<std::vector<int>> {
          std::vector<int> out;
          for (const auto& row :
               w.exec("SELECT version FROM " + schema_ + ".schema_migrations ORDER BY 1")) {
            out.push_back(row[0].as<int>());
          }
          return out;
        });
    EXPECT_TRUE(v.ok()) << v.status();
    return v.value_or(std::vector<int>{});
  }

  // Items table plus a log of which migration ran, so running one twice would show.
  std::vector<Migration> Migrations(int up_to) {
    std::vector<Migration> all = {
        {1, "create_items",
         "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE);"
         "CREATE TABLE log (version int NOT NULL); INSERT INTO log VALUES (1)"},
        {2, "create_counter",
         "CREATE TABLE counter (id int PRIMARY KEY, n bigint NOT NULL CHECK (n >= 0));"
         "INSERT INTO counter VALUES (1, 0), (2, 0); INSERT INTO log VALUES (2)"},
        {3, "item_notes",
         "ALTER TABLE items ADD COLUMN note text;"
         "CREATE TABLE notes (item_id bigint NOT NULL REFERENCES items(id));"
         "INSERT INTO log VALUES (3)"},
    };
    all.resize(up_to);
    return all;
  }

  std::string url_;
  std::string suffix_;
  std::string schema_;
  std::unique_ptr<PgPool> admin_;
};

TEST_F(PgIntegrationTest, PingAndTransactFor) {
  EXPECT_EQ(admin_->Ping(), absl::OkStatus());
  absl::StatusOr<int64_t> v = QueryInt(*admin_, "SELECT 40 + 2");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 42);
  absl::StatusOr<int> err = admin_->TransactFor<int>(
      [](pqxx::work&) -> absl::StatusOr<int> { return absl::NotFoundError("none"); });
  EXPECT_EQ(err.status(), absl::NotFoundError("none"));
}

TEST_F(PgIntegrationTest, MigrationsApplyOnceAndAreIdempotent) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(2)), absl::OkStatus());
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2));
  // Migration 1 is not re-runnable (CREATE TABLE without IF NOT EXISTS): a second run must
  // skip it.
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(2)), absl::OkStatus());
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2));
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(3)), absl::OkStatus());
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3));
  EXPECT_EQ(QueryInt(*admin_, "SELECT count(*) FROM " + schema_ + ".log").value_or(-1), 3);
  // Unqualified names in migrations landed in the schema, not in public.
  EXPECT_EQ(QueryInt(*admin_,
                     "SELECT count(*) FROM pg_tables WHERE tablename = 'items' "
                     "AND schemaname = '" +
                         schema_ + "'")
                .value_or(-1),
            1);
  EXPECT_EQ(QueryInt(*admin_, "SELECT count(*) FROM " + schema_ +
                                  ".schema_migrations "
                                  "WHERE name = 'item_notes' AND applied_at <= now()")
                .value_or(-1),
            1);
}

TEST_F(PgIntegrationTest, ConcurrentReplicasMigrateEachVersionOnce) {
  constexpr int kReplicas = 8;
  std::vector<absl::Status> results(kReplicas);
  std::vector<std::thread> threads;
  absl::Notification go;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      // Each replica has its own pool, like separate processes.
      std::unique_ptr<PgPool> pool = NewPool(absl::StrCat("replica", i), 1);
      go.WaitForNotification();
      results[i] = Migrate(*pool, schema_, Migrations(3));
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kReplicas; ++i) EXPECT_EQ(results[i], absl::OkStatus()) << i;
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3));
  EXPECT_EQ(QueryInt(*admin_, "SELECT count(*) FROM " + schema_ + ".log").value_or(-1), 3);
}

TEST_F(PgIntegrationTest, RefusesSchemaNewerThanBinary) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(3)), absl::OkStatus());
  absl::Status old_binary = Migrate(*admin_, schema_, Migrations(2));
  EXPECT_EQ(old_binary.code(), absl::StatusCode::kFailedPrecondition) << old_binary;
  EXPECT_THAT(old_binary.message(), HasSubstr("version 3"));
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3));
  EXPECT_EQ(Migrate(*admin_, schema_, Migrations(3)), absl::OkStatus());
}

TEST_F(PgIntegrationTest, FailingMigrationRollsBackEverything) {
  std::vector<Migration> migrations = Migrations(1);
  migrations.push_back({2, "broken", "CREATE TABLE oops (id int PRIMARY KEY,"});
  absl::Status s = Migrate(*admin_, schema_, migrations);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(s.message(), HasSubstr("42601"));
  EXPECT_THAT(s.message(), HasSubstr("migration 2 (broken)"));
  // Not even the schema exists: one transaction.
  EXPECT_EQ(QueryInt(*admin_, "SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'")
                .value_or(-1),
            0);
  // A fixed binary then migrates cleanly.
  EXPECT_EQ(Migrate(*admin_, schema_, Migrations(3)), absl::OkStatus());
  EXPECT_THAT(AppliedVersions(), ElementsAre(1, 2, 3));
}

TEST_F(PgIntegrationTest, ConstraintViolationsMapToStatusWithoutParameters) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(3)), absl::OkStatus());
  auto insert = [&](const std::string& name) {
    return admin_->Transact([&](pqxx::work& w) {
      w.exec_params("INSERT INTO " + schema_ + ".items (name) VALUES ($1)", name);
      return absl::OkStatus();
    });
  };
  ASSERT_EQ(insert("alice-private@example.com"), absl::OkStatus());
  absl::Status dup = insert("alice-private@example.com");
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  EXPECT_THAT(dup.message(), Not(HasSubstr("alice")));

  absl::Status check = admin_->Transact([&](pqxx::work& w) {
    w.exec_params("UPDATE " + schema_ + ".counter SET n = $1 WHERE id = 1", -7);
    return absl::OkStatus();
  });
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition) << check;
  absl::Status fk = admin_->Transact([&](pqxx::work& w) {
    w.exec_params("INSERT INTO " + schema_ + ".notes (item_id) VALUES ($1)", 987654321);
    return absl::OkStatus();
  });
  EXPECT_EQ(fk.code(), absl::StatusCode::kFailedPrecondition) << fk;
  EXPECT_THAT(fk.message(), Not(HasSubstr("987654321")));
  // The connection that saw the errors is still fine.
  EXPECT_EQ(admin_->Ping(), absl::OkStatus());
}

TEST_F(PgIntegrationTest, FailingFnRollsBack) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(1)), absl::OkStatus());
  const std::string insert = "INSERT INTO " + schema_ + ".items (name) VALUES ('x')";
  const std::string count = "SELECT count(*) FROM " + schema_ + ".items";

  EXPECT_EQ(admin_->Transact([&](pqxx::work& w) {
    w.exec(insert);
    return absl::PermissionDeniedError("changed my mind");
  }),
            absl::PermissionDeniedError("changed my mind"));
  EXPECT_EQ(QueryInt(*admin_, count).value_or(-1), 0);

  absl::Status thrown = admin_->Transact([&](pqxx::work& w) -> absl::Status {
    w.exec(insert);
    throw std::runtime_error("boom with secret detail");
  });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal) << thrown;
  EXPECT_THAT(thrown.message(), Not(HasSubstr("secret")));
  EXPECT_EQ(QueryInt(*admin_, count).value_or(-1), 0);

  absl::Status bad_sql = admin_->Transact([&](pqxx::work& w) {
    w.exec(insert);
    w.exec("SELECT no_such_column FROM " + schema_ + ".items");
    return absl::OkStatus();
  });
  EXPECT_EQ(bad_sql.code(), absl::StatusCode::kInternal) << bad_sql;
  EXPECT_EQ(QueryInt(*admin_, count).value_or(-1), 0);

  EXPECT_EQ(admin_->Transact([&](pqxx::work& w) {
    w.exec(insert);
    return absl::OkStatus();
  }),
            absl::OkStatus());
  EXPECT_EQ(QueryInt(*admin_, count).value_or(-1), 1);
}

TEST_F(PgIntegrationTest, ConcurrentTransactThroughSmallPool) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(2)), absl::OkStatus());
  std::unique_ptr<PgPool> pool = NewPool("small", 2);
  constexpr int kThreads = 16;
  constexpr int kIncrements = 25;
  std::atomic<int> failures{0};
  std::atomic<int64_t> max_backends{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status s = pool->Transact([&](pqxx::work& w) {
          w.exec("UPDATE " + schema_ + ".counter SET n = n + 1 WHERE id = 1");
          return absl::OkStatus();
        });
        if (!s.ok()) {
          ADD_FAILURE() << s;
          ++failures;
        }
      }
    });
  }
  std::thread watcher([&] {
    for (int i = 0; i < 20; ++i) {
      int64_t n = BackendCount("small");
      int64_t prev = max_backends.load();
      while (n > prev && !max_backends.compare_exchange_weak(prev, n)) {
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  for (std::thread& t : threads) t.join();
  watcher.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(QueryInt(*admin_, "SELECT n FROM " + schema_ + ".counter WHERE id = 1").value_or(-1),
            kThreads * kIncrements);
  EXPECT_LE(max_backends.load(), 2);
  EXPECT_LE(BackendCount("small"), 2);
}

TEST_F(PgIntegrationTest, ExhaustedPoolIsUnavailableAfterAcquireTimeout) {
  std::unique_ptr<PgPool> pool =
      NewPool("one", 1, absl::Seconds(5), /*acquire_timeout=*/absl::Milliseconds(200));
  absl::Notification holding, release;
  std::thread holder([&] {
    EXPECT_EQ(pool->Transact([&](pqxx::work& w) {
      w.exec("SELECT 1");
      holding.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    }),
              absl::OkStatus());
  });
  holding.WaitForNotification();
  const absl::Time start = absl::Now();
  absl::Status s = pool->Ping();
  const absl::Duration waited = absl::Now() - start;
  release.Notify();
  holder.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("postgres unavailable"));
  EXPECT_GE(waited, absl::Milliseconds(150));
  EXPECT_LT(waited, absl::Seconds(2));
  EXPECT_EQ(pool->Ping(), absl::OkStatus());
}

TEST_F(PgIntegrationTest, StatementTimeoutIsDeadlineExceeded) {
  std::unique_ptr<PgPool> pool = NewPool("slow", 1, absl::Milliseconds(200));
  const absl::Time start = absl::Now();
  absl::Status s = pool->Transact([](pqxx::work& w) {
    w.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(pool->Ping(), absl::OkStatus());
}

TEST_F(PgIntegrationTest, DeadlockIsAborted) {
  ASSERT_EQ(Migrate(*admin_, schema_, Migrations(2)), absl::OkStatus());
  std::unique_ptr<PgPool> pool = NewPool("deadlock", 2);
  absl::Notification a_locked, b_locked;
  auto cross = [&](int first, int second, absl::Notification& mine, absl::Notification& theirs) {
    return pool->Transact([&](pqxx::work& w) {
      w.exec(absl::StrCat("UPDATE ", schema_, ".counter SET n = n + 1 WHERE id = ", first));
      mine.Notify();
      theirs.WaitForNotification();
      w.exec(absl::StrCat("UPDATE ", schema_, ".counter SET n = n + 1 WHERE id = ", second));
      return absl::OkStatus();
    });
  };
  absl::Status a, b;
  std::thread ta([&] { a = cross(1, 2, a_locked, b_locked); });
  std::thread tb([&] { b = cross(2, 1, b_locked, a_locked); });
  ta.join();
  tb.join();
  // PostgreSQL breaks the cycle by failing exactly one of them.
  EXPECT_EQ(a.ok() + b.ok(), 1) << a << " / " << b;
  EXPECT_TRUE(absl::IsAborted(a.ok() ? b : a)) << a << " / " << b;
}

TEST_F(PgIntegrationTest, RecoversAfterIdleBackendsAreKilled) {
  constexpr int kSize = 4;
  std::unique_ptr<PgPool> pool = NewPool("killed", kSize);
  // Open kSize connections at once so all of them sit idle in the pool afterwards.
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kSize; ++i) {
      threads.emplace_back([&] {
        EXPECT_EQ(pool->Transact([](pqxx::work& w) {
          w.exec("SELECT pg_sleep(0.3)");
          return absl::OkStatus();
        }),
                  absl::OkStatus());
      });
    }
    for (std::thread& t : threads) t.join();
  }
  ASSERT_EQ(BackendCount("killed"), kSize);
  KillBackends("killed");

  std::vector<absl::Status> results;
  for (int i = 0; i < 10; ++i) {
    results.push_back(i % 2 == 0 ? pool->Ping() : pool->Transact([](pqxx::work& w) {
      w.exec("SELECT 1");
      return absl::OkStatus();
    }));
  }
  int failures = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) continue;
    ++failures;
    EXPECT_EQ(i, 0u) << "only the first call may fail: " << results[i];
    EXPECT_EQ(results[i].code(), absl::StatusCode::kUnavailable) << results[i];
  }
  EXPECT_LE(failures, 1);
  EXPECT_GE(BackendCount("killed"), 1);
}

TEST_F(PgIntegrationTest, KilledMidTransactionIsUnavailableThenRecovers) {
  std::unique_ptr<PgPool> pool = NewPool("midtx", 2);
  int calls = 0;
  absl::Status s = pool->Transact([&](pqxx::work& w) {
    ++calls;
    w.exec("SELECT 1");
    KillBackends("midtx");
    w.exec("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_EQ(calls, 1);  // never re-run once it started
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(pool->Ping(), absl::OkStatus());
  EXPECT_EQ(pool->Transact([](pqxx::work& w) {
    w.exec("SELECT 1");
    return absl::OkStatus();
  }),
            absl::OkStatus());
}

TEST_F(PgIntegrationTest, ReadRunsOutsideATransaction) {
  absl::StatusOr<int64_t> v = admin_->ReadFor<int64_t>(
      [](pqxx::nontransaction& tx) -> absl::StatusOr<int64_t> {
        return tx.exec1("SELECT 6 * 7")[0].as<int64_t>();
      });
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 42);
  // Inside a transaction now() is the transaction's start and never moves; here each
  // statement is its own transaction, so the second now() is later than the first.
  absl::StatusOr<bool> moved = admin_->ReadFor<bool>(
      [](pqxx::nontransaction& tx) -> absl::StatusOr<bool> {
        const std::string first = tx.exec1("SELECT now()::text")[0].as<std::string>();
        tx.exec("SELECT pg_sleep(0.01)");
        const std::string second = tx.exec1("SELECT now()::text")[0].as<std::string>();
        return first != second;
      });
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_TRUE(*moved);
  absl::StatusOr<int> err = admin_->ReadFor<int>(
      [](pqxx::nontransaction&) -> absl::StatusOr<int> { return absl::NotFoundError("none"); });
  EXPECT_EQ(err.status(), absl::NotFoundError("none"));
  absl::Status bad = admin_->Read([](pqxx::nontransaction& tx) {
    tx.exec("SELECT * FROM no_such_table_here");
    return absl::OkStatus();
  });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInternal) << bad;
  EXPECT_THAT(std::string(bad.message()), Not(HasSubstr("no_such_table_here")));
}

TEST_F(PgIntegrationTest, ReadOnAStalePooledConnectionIsRetriedOnAFreshOne) {
  std::unique_ptr<PgPool> pool = NewPool("staleread", 1);
  ASSERT_EQ(pool->Ping(), absl::OkStatus());
  ASSERT_EQ(BackendCount("staleread"), 1);
  KillBackends("staleread");
  int calls = 0;
  absl::StatusOr<int64_t> v = pool->ReadFor<int64_t>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<int64_t> {
        ++calls;
        return tx.exec1("SELECT 1")[0].as<int64_t>();
      });
  // Unlike Transact, whose body has run by then, a read meets the dead connection in its
  // own statement and is run again rather than failing.
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(BackendCount("staleread"), 1);
}

TEST_F(PgIntegrationTest, PreparedStatementsSurviveAMigrationThatChangesTheirResult) {
  ASSERT_EQ(admin_->Transact([&](pqxx::work& w) {
    w.exec("CREATE SCHEMA " + schema_ + "; CREATE TABLE " + schema_ +
           ".t (id int PRIMARY KEY, v int); INSERT INTO " + schema_ + ".t VALUES (1, 7)");
    return absl::OkStatus();
  }),
            absl::OkStatus());
  std::unique_ptr<PgPool> pool = NewPool("prepared", 1);
  const std::string sql = "SELECT v FROM " + schema_ + ".t WHERE id = $1";
  auto read = [&]() {
    return pool->ReadFor<std::string>([&](pqxx::nontransaction& tx) -> absl::StatusOr<std::string> {
      return ExecPrepared(tx, "get_v", sql, 1)[0][0].as<std::string>();
    });
  };
  absl::StatusOr<std::string> v = read();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "7");
  v = read();  // the same connection, the statement already prepared
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(BackendCount("prepared"), 1);
  // The connection's plan returns int; after this it would have to return text.
  ASSERT_EQ(admin_->Transact([&](pqxx::work& w) {
    w.exec("ALTER TABLE " + schema_ + ".t ALTER COLUMN v TYPE text");
    return absl::OkStatus();
  }),
            absl::OkStatus());
  // PostgreSQL refuses the stale plan (0A000); the pool drops that connection and the read
  // runs again on a fresh one, which prepares the statement anew.
  v = read();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "7");
}

}  // namespace
}  // namespace tally
