#include "common/postgres/pg_pool.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/except>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/postgres/migrations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kQuery[] = "INSERT INTO users (email) VALUES ('bob@example.com')";
constexpr char kWhat[] = "ERROR: duplicate key\nDETAIL: Key (email)=(bob@example.com) exists";

template <typename E>
absl::Status MapSql(const char* sqlstate) {
  return PgErrorToStatus(E(kWhat, kQuery, sqlstate));
}

TEST(PgErrorToStatusTest, UniqueViolationIsAlreadyExists) {
  absl::Status s = MapSql<pqxx::unique_violation>("23505");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("23505"));
  EXPECT_THAT(s.message(), Not(HasSubstr("bob@example.com")));
}

TEST(PgErrorToStatusTest, ConstraintViolationsAreFailedPrecondition) {
  EXPECT_EQ(MapSql<pqxx::check_violation>("23514").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MapSql<pqxx::foreign_key_violation>("23503").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MapSql<pqxx::not_null_violation>("23502").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PgErrorToStatusTest, ConnectionFailuresAreUnavailable) {
  for (absl::Status s :
       {PgErrorToStatus(pqxx::broken_connection("connection refused")),
        PgErrorToStatus(pqxx::too_many_connections("too many")), MapSql<pqxx::sql_error>("08006"),
        MapSql<pqxx::sql_error>("08001"), MapSql<pqxx::sql_error>("57P01"),
        MapSql<pqxx::sql_error>("57P02"), MapSql<pqxx::sql_error>("57P03"),
        MapSql<pqxx::insufficient_resources>("53000")}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr("postgres unavailable"));
  }
}

TEST(PgErrorToStatusTest, RollbacksAreAborted) {
  EXPECT_EQ(PgErrorToStatus(pqxx::serialization_failure("could not serialize")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(PgErrorToStatus(pqxx::deadlock_detected("deadlock")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(MapSql<pqxx::sql_error>("40001").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(MapSql<pqxx::sql_error>("40P01").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(MapSql<pqxx::sql_error>("55P03").code(), absl::StatusCode::kAborted);
}

TEST(PgErrorToStatusTest, StatementTimeoutIsDeadlineExceeded) {
  EXPECT_EQ(MapSql<pqxx::sql_error>("57014").code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PgErrorToStatusTest, InDoubtCommitIsUnknown) {
  EXPECT_EQ(PgErrorToStatus(pqxx::in_doubt_error("lost while committing")).code(),
            absl::StatusCode::kUnknown);
}

TEST(PgErrorToStatusTest, EverythingElseIsInternalWithoutDetails) {
  for (absl::Status s :
       {MapSql<pqxx::syntax_error>("42601"), MapSql<pqxx::sql_error>(""),
        MapSql<pqxx::sql_error>(nullptr), MapSql<pqxx::data_exception>("22P02"),
        PgErrorToStatus(pqxx::conversion_error(kWhat)), PgErrorToStatus(pqxx::usage_error(kWhat)),
        PgErrorToStatus(std::runtime_error(kWhat))}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
    EXPECT_THAT(s.message(), HasSubstr("postgres error"));
    EXPECT_THAT(s.message(), Not(HasSubstr("bob")));
    EXPECT_THAT(s.message(), Not(HasSubstr("INSERT")));
  }
}

TEST(BuildPgConnInfoTest, AppendsTimeoutsToUri) {
  PgOptions o;
  o.url = "postgresql://u:pw@db:5432/tally";
  o.connect_timeout = absl::Milliseconds(1500);
  o.statement_timeout = absl::Seconds(5);
  EXPECT_EQ(BuildPgConnInfo(o),
            "postgresql://u:pw@db:5432/tally?connect_timeout=2"
            "&options=-c%20statement_timeout%3D5000");
  o.url = "postgres://db/tally?sslmode=require";
  o.statement_timeout = absl::ZeroDuration();
  EXPECT_EQ(BuildPgConnInfo(o), "postgres://db/tally?sslmode=require&connect_timeout=2");
}

TEST(BuildPgConnInfoTest, AppendsTimeoutsToKeyValue) {
  PgOptions o;
  o.url = "host=db dbname=tally";
  o.connect_timeout = absl::Seconds(3);
  o.statement_timeout = absl::Milliseconds(250);
  EXPECT_EQ(BuildPgConnInfo(o),
            "host=db dbname=tally connect_timeout='3' options='-c statement_timeout=250'");
}

// Nothing listens on port 1 of the loopback: connecting fails at once.
PgOptions Unreachable() {
  PgOptions o;
  o.url = "postgresql://tally:s3cr3t-pw@127.0.0.1:1/tally";
  o.connect_timeout = absl::Seconds(2);
  o.acquire_timeout = absl::Seconds(2);
  return o;
}

TEST(PgPoolTest, ConstructionNeverConnects) {
  PgOptions o = Unreachable();
  o.url = "this is not a conninfo";
  PgPool pool(o);  // must neither throw nor block
  EXPECT_EQ(pool.Ping().code(), absl::StatusCode::kUnavailable);
}

TEST(PgPoolTest, UnreachableDatabaseIsUnavailableWithoutSecrets) {
  PgPool pool(Unreachable());
  const absl::Time start = absl::Now();
  absl::Status s = pool.Ping();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("postgres unavailable"));
  EXPECT_THAT(s.message(), Not(HasSubstr("s3cr3t")));
  bool ran = false;
  s = pool.Transact([&](pqxx::work&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ran);
  EXPECT_EQ(
      pool.TransactFor<int>([](pqxx::work&) -> absl::StatusOr<int> { return 1; }).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

// A TCP listener that never accepts: the kernel completes the handshake, then libpq waits
// for a reply to its startup packet that never comes. Models a hung or black-holed server.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 64) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on the loopback";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(PgPoolTest, HungServerGivesUpAfterConnectTimeout) {
  SilentListener server;
  PgOptions o;
  o.url = absl::StrCat("host=127.0.0.1 port=", server.port(), " user=tally dbname=tally");
  o.connect_timeout = absl::Seconds(2);
  PgPool pool(o);
  const absl::Time start = absl::Now();
  absl::Status s = pool.Ping();
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_GE(took, absl::Milliseconds(1500));
  EXPECT_LT(took, absl::Seconds(4));
}

// Connection attempts run outside the pool lock: pool_size callers wait for one connect
// timeout together, not one after another, and the callers beyond pool_size give up after
// acquire_timeout.
TEST(PgPoolTest, ConcurrentConnectsDoNotSerialize) {
  SilentListener server;
  PgOptions o;
  o.url = absl::StrCat("postgresql://tally@127.0.0.1:", server.port(), "/tally");
  o.pool_size = 4;
  o.connect_timeout = absl::Seconds(2);
  o.acquire_timeout = absl::Milliseconds(500);
  PgPool pool(o);
  constexpr int kCallers = 8;
  std::vector<absl::Status> results(kCallers);
  std::vector<absl::Duration> took(kCallers);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      results[i] = pool.Ping();
      took[i] = absl::Now() - start;
    });
  }
  for (std::thread& t : threads) t.join();
  int fast = 0;
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_EQ(results[i].code(), absl::StatusCode::kUnavailable) << results[i];
    EXPECT_LT(took[i], absl::Seconds(4)) << i;
    if (took[i] < absl::Seconds(1)) ++fast;
  }
  EXPECT_EQ(fast, kCallers - o.pool_size);  // the ones that never got a slot
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST(MigrateTest, RejectsBadSchemaNamesWithoutConnecting) {
  PgPool pool(Unreachable());
  for (const char* name :
       {"", "Users", "1users", "users-x", "pg_users", "a b", "users;drop", "\"users\""}) {
    EXPECT_EQ(Migrate(pool, name, {}).code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(Migrate(pool, std::string(64, 'a'), {}).code(), absl::StatusCode::kInvalidArgument);
  // Valid names get as far as the (unreachable) database.
  EXPECT_EQ(Migrate(pool, std::string(63, 'a'), {}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Migrate(pool, "_users2", {}).code(), absl::StatusCode::kUnavailable);
}

TEST(MigrateTest, RejectsVersionsNotStrictlyIncreasing) {
  PgPool pool(Unreachable());
  EXPECT_EQ(Migrate(pool, "users", {{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(pool, "users", {{2, "a", "SELECT 1"}, {1, "b", "SELECT 1"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(pool, "users", {{0, "a", "SELECT 1"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(pool, "users", {{1, "a", "SELECT 1"}, {5, "b", "SELECT 1"}}).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tally
