// Fault 2 of issue 9: PostgreSQL stopped and started again: policy, credential and passkey
// answer UNAVAILABLE (within the call's deadline) and report NOT_SERVING while it is down, then
// serve again by themselves; a user whose creation was acknowledged just before a kill -9 of
// the postmaster is there after crash recovery.
//
// Durability: tools/dev pg-start runs initdb --no-sync, which only skips syncing initdb's own
// files; the server runs with PostgreSQL's defaults, fsync = on and synchronous_commit = on, so
// a COMMIT is acknowledged only after its WAL is flushed. The test checks both settings first,
// since the claim rests on them.

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace credpb = ::tally::credential::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using ::grpc::health::v1::HealthCheckResponse;
using testing::ClusterOptions;

const std::vector<std::string> kPostgresServices = {"policy", "credential", "passkey"};

// One call to each PostgreSQL service that needs the database; their status codes by service.
std::map<std::string, grpc::Status> CallEach(Cluster& cluster, const std::string& dir,
                                             const std::string& user_id) {
  const absl::Duration deadline = absl::Seconds(10);
  std::map<std::string, grpc::Status> out;
  {
    polpb::GetAuthSettingsRequest r;
    r.set_directory_id(dir);
    polpb::GetAuthSettingsResponse response;
    out["policy"] = cluster.policies().GetAuthSettings(
        testing::NewContext("", cluster.platform_key(), deadline).get(), r, &response);
  }
  {
    credpb::GetUserRequest r;
    r.set_user_id(user_id);
    credpb::GetUserResponse response;
    out["credential"] = cluster.users().GetUser(
        testing::NewContext("", cluster.platform_key(), deadline).get(), r, &response);
  }
  {
    // The user's passkeys are read from PostgreSQL (FAILED_PRECONDITION: none yet).
    pkpb::StartAuthenticationRequest r;
    r.set_directory_id(dir);
    r.set_user_id(user_id);
    pkpb::StartAuthenticationResponse response;
    out["passkey"] = cluster.passkeys().StartAuthentication(
        testing::NewContext("", cluster.platform_key(), deadline).get(), r, &response);
  }
  return out;
}

grpc::Status GetUser(Cluster& cluster, const std::string& id, credpb::User* user) {
  credpb::GetUserRequest r;
  r.set_user_id(id);
  credpb::GetUserResponse response;
  grpc::Status s =
      cluster.users().GetUser(testing::NewContext("", cluster.platform_key()).get(), r, &response);
  *user = response.user();
  return s;
}

TEST(PostgresStoppedTest, ServicesFailFastRecoverAndAcknowledgedWritesSurviveAKill) {
  ScratchPostgres pg;
  ASSERT_TRUE(pg.Start().ok());
  absl::StatusOr<std::string> fsync = pg.Query("SHOW fsync");
  ASSERT_TRUE(fsync.ok()) << fsync.status();
  ASSERT_EQ(*fsync, "on");
  absl::StatusOr<std::string> commit = pg.Query("SHOW synchronous_commit");
  ASSERT_TRUE(commit.ok()) << commit.status();
  ASSERT_EQ(*commit, "on");

  ClusterOptions options;
  options.postgres_url = pg.url();
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());
  std::map<std::string, pid_t> pids;
  for (const std::string& name : kPostgresServices) {
    pids[name] = cluster.service(name).process().pid();
    ASSERT_EQ(cluster.service(name).Health(), HealthCheckResponse::SERVING) << name;
  }
  const std::string dir = cluster.CreateDirectory();
  const Cluster::User ann = cluster.CreateUser(dir, "ann");
  for (const auto& [name, s] : CallEach(cluster, dir, ann.id)) {
    EXPECT_TRUE(s.ok() || (name == "passkey" &&
                           s.error_code() == grpc::StatusCode::FAILED_PRECONDITION))
        << name << " " << Describe(s);
  }

  // 1. A clean stop.
  ASSERT_TRUE(pg.Stop().ok());
  for (const std::string& name : kPostgresServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::NOT_SERVING; },
        absl::Seconds(10)))
        << name << " does not report NOT_SERVING while PostgreSQL is down";
  }
  for (const auto& [name, s] : CallEach(cluster, dir, ann.id)) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << name << " " << Describe(s);
  }
  {
    credpb::CreateUserRequest r;
    r.set_directory_id(dir);
    r.set_username("during-outage");
    r.set_password(testing::kClusterPassword);
    credpb::CreateUserResponse response;
    grpc::Status s = cluster.users().CreateUser(
        testing::NewContext("", cluster.platform_key(), absl::Seconds(10)).get(), r, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  }
  // A login needs policy (settings) and credential (the user): the orchestrator says so.
  opb::LoginState state;
  grpc::Status s = StartLogin(cluster.logins(0), dir, "ann", &state, absl::Seconds(10));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);

  ASSERT_TRUE(pg.Start().ok());
  for (const std::string& name : kPostgresServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::SERVING; },
        absl::Seconds(30)))
        << name << " does not serve again after PostgreSQL came back";
  }
  // Pooled connections died with the server; the next calls must not fail on them.
  for (const auto& [name, s] : CallEach(cluster, dir, ann.id)) {
    EXPECT_TRUE(s.ok() || (name == "passkey" &&
                           s.error_code() == grpc::StatusCode::FAILED_PRECONDITION))
        << name << " " << Describe(s);
  }
  ASSERT_TRUE(StartLogin(cluster.logins(0), dir, "ann", &state).ok());
  s = SubmitPassword(cluster.logins(0), state.login_id(), testing::kClusterPassword, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.score(), 20);

  // 2. A crash right after an acknowledged write.
  credpb::CreateUserRequest create;
  create.set_directory_id(dir);
  create.set_username("durable");
  create.set_password(testing::kClusterPassword);
  create.set_email("durable@faults.example");
  credpb::CreateUserResponse created;
  s = cluster.users().CreateUser(testing::NewContext("", cluster.platform_key()).get(), create,
                                 &created);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_TRUE(pg.KillPostmaster().ok());
  for (const std::string& name : kPostgresServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::NOT_SERVING; },
        absl::Seconds(10)))
        << name << " does not report NOT_SERVING after the crash";
  }
  ASSERT_TRUE(pg.Start().ok());  // crash recovery replays the WAL
  for (const std::string& name : kPostgresServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::SERVING; },
        absl::Seconds(30)))
        << name << " does not serve again after the crash";
    EXPECT_EQ(cluster.service(name).process().pid(), pids[name]) << name;
    EXPECT_EQ(kill(pids[name], 0), 0) << name << " is gone";
  }
  credpb::User user;
  s = GetUser(cluster, created.user().user_id(), &user);
  ASSERT_TRUE(s.ok()) << "the acknowledged user is gone: " << Describe(s);
  EXPECT_EQ(user.username(), "durable");
  EXPECT_EQ(user.email(), "durable@faults.example");
  // Its password hash survived too: it can log in.
  ASSERT_TRUE(StartLogin(cluster.logins(1), dir, "durable", &state).ok());
  s = SubmitPassword(cluster.logins(1), state.login_id(), testing::kClusterPassword, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(state.score(), 20);
}

}  // namespace
}  // namespace tally::faults
