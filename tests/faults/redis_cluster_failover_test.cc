// Issue 23: the whole cluster on a Redis Cluster of the test's own (three primaries, three
// replicas, a one-second cluster-node-timeout), password logins running on both orchestrator
// replicas, and the primary of the busy directory SIGKILLed. While its replica takes over the
// directory's calls answer UNAVAILABLE (retryable) within their deadline: never a success with a
// wrong password, never another error, never a hang; then the same processes, not restarted,
// log the directory in again. A revocation made just before the kill holds after it.

#include <signal.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/redis/key_slot.h"
#include "common/testing/redis_cluster.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::LocalRedisCluster;

// Every service: each one's Redis client follows the failover on its own.
const std::vector<std::string> kServices = {"policy",         "credential", "otp",
                                            "otp-sender-a",   "passkey",    "orchestrator-a",
                                            "orchestrator-b"};

TEST(RedisClusterFailoverTest, PrimaryKilledUnderLoginsItsReplicaTakesOverWithoutRestarts) {
  LocalRedisCluster redis;
  ASSERT_TRUE(redis.Start().ok());
  ClusterOptions options;
  options.redis_cluster_nodes = redis.seeds();
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());
  std::map<std::string, pid_t> pids;
  for (const std::string& name : kServices) pids[name] = cluster.service(name).process().pid();

  // Professional: the password alone (20) reaches the level.
  const std::string dir = cluster.CreateDirectory(polpb::TIER_PROFESSIONAL);
  cluster.CreateUser(dir, "loader");
  cluster.CreateUser(dir, "guesser");
  const Cluster::User revoked_user = cluster.CreateUser(dir, "revoked");
  const int slot = KeySlot(absl::StrCat("{", dir, "}"));
  absl::StatusOr<int> primary = redis.PrimaryOf(slot);
  ASSERT_TRUE(primary.ok()) << primary.status();

  // A session to revoke right before the kill.
  opb::LoginState state;
  ASSERT_TRUE(StartLogin(cluster.logins(0), dir, "revoked", &state).ok());
  ASSERT_TRUE(SubmitPassword(cluster.logins(0), state.login_id(), testing::kClusterPassword,
                             &state)
                  .ok());
  ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  const std::string token = state.session().token();
  ASSERT_TRUE(ValidateSession(cluster.sessions(), token).ok());

  PasswordLoginLoad load(cluster, dir, "loader", "guesser", absl::Seconds(5));
  ASSERT_TRUE(testing::WaitFor([&] { return load.Succeeded() >= 3; }, absl::Seconds(60)))
      << "the load never got going";

  {
    opb::RevokeSessionRequest r;
    r.set_token(token);
    opb::RevokeSessionResponse out;
    grpc::Status s =
        cluster.sessions().RevokeSession(testing::NewContext().get(), r, &out);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  ASSERT_TRUE(redis.Kill(*primary).ok());
  const absl::Status took_over = redis.WaitForNewPrimary(slot, *primary, absl::Seconds(60));
  ASSERT_TRUE(took_over.ok()) << took_over;
  const int succeeded_at_failover = load.Succeeded();

  // The same processes log the directory in again.
  EXPECT_TRUE(testing::WaitFor([&] { return load.Succeeded() >= succeeded_at_failover + 3; },
                               absl::Seconds(60)))
      << "password logins do not succeed again after the failover";
  load.Stop();
  for (const std::string& name : kServices) {
    EXPECT_EQ(cluster.service(name).process().pid(), pids[name]) << name;
    EXPECT_EQ(kill(pids[name], 0), 0) << name << " is gone";
  }

  // During the switch: UNAVAILABLE and nothing else, each within its deadline; never a
  // success for the wrong password.
  int unavailable = 0;
  for (const PasswordLoginLoad::Outcome& o : load.outcomes()) {
    if (o.wrong_password) {
      EXPECT_NE(o.status, opb::LOGIN_STATUS_SUCCEEDED) << "a wrong password logged in";
    }
    EXPECT_TRUE(o.code == grpc::StatusCode::OK || o.code == grpc::StatusCode::UNAVAILABLE)
        << o.code << " " << o.message;
    EXPECT_LT(o.longest_call, load.deadline() + absl::Seconds(1))
        << "a call outlived its deadline";
    unavailable += o.code == grpc::StatusCode::UNAVAILABLE;
  }
  EXPECT_GT(unavailable, 0) << "the load never saw the switch";

  // The revocation acknowledged before the kill survived it.
  grpc::Status validated = ValidateSession(cluster.sessions(), token);
  EXPECT_EQ(validated.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(validated);
  // Every service that checks tokens refuses it too (they read revocations from the cluster).
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    ::tally::credential::v1::GetUserRequest r;
    r.set_user_id(revoked_user.id);
    ::tally::credential::v1::GetUserResponse out;
    grpc::Status s = cluster.users().GetUser(&context, r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
  }
}

}  // namespace
}  // namespace tally::faults
