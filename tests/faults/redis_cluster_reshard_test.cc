// Issue 23: the hash slot of a busy directory moved from one primary of a Redis Cluster to
// another while its users log in, key by key, the way `redis-cli --cluster reshard` moves a
// slot (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE), back and forth until
// several login steps ran during a move: the services follow ASK while keys are split between
// the two nodes, retry TRYAGAIN for a script whose keys are, and follow MOVED once the slot has
// moved. No login fails for it.

#include <string>
#include <utility>
#include <vector>

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

TEST(RedisClusterReshardTest, ABusyDirectorysSlotMovesBackAndForthAndNoLoginFails) {
  LocalRedisCluster redis;
  ASSERT_TRUE(redis.Start().ok());
  ClusterOptions options;
  options.redis_cluster_nodes = redis.seeds();
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());

  const std::string dir = cluster.CreateDirectory(polpb::TIER_PROFESSIONAL);
  cluster.CreateUser(dir, "loader");
  cluster.CreateUser(dir, "guesser");
  const int slot = KeySlot(absl::StrCat("{", dir, "}"));
  absl::StatusOr<int> home = redis.PrimaryOf(slot);
  ASSERT_TRUE(home.ok()) << home.status();
  int away = 0;
  for (const int port : redis.ports()) {
    absl::StatusOr<int> other = redis.PrimaryOf(KeySlot(absl::StrCat("{probe-", port, "}")));
    if (other.ok() && *other != *home) away = *other;
  }
  ASSERT_NE(away, 0) << "no second primary";

  PasswordLoginLoad load(cluster, dir, "loader", "guesser", absl::Seconds(10));
  ASSERT_TRUE(testing::WaitFor([&] { return load.Finished() >= 6; }, absl::Seconds(60)))
      << "the load never got going";

  // Away and home again, a key at a time as fast as Redis moves them, until several login
  // steps ran while the slot was half moved (ASK, TRYAGAIN) or had just moved (MOVED).
  std::vector<std::pair<absl::Time, absl::Time>> windows;
  auto overlapping = [&] {
    int n = 0;
    for (const PasswordLoginLoad::Outcome& o : load.outcomes()) {
      for (const auto& [from, until] : windows) {
        if (o.start < until && o.end > from) {
          ++n;
          break;
        }
      }
    }
    return n;
  };
  int moves = 0;
  while (overlapping() < 5 && moves < 40) {
    const int to = moves % 2 == 0 ? away : *home;
    const absl::Time from = absl::Now();
    const absl::Status moved = redis.MigrateSlot(slot, to);
    ASSERT_TRUE(moved.ok()) << moved;
    windows.emplace_back(from, absl::Now());
    ASSERT_EQ(*redis.PrimaryOf(slot), to);
    ++moves;
    // Let the load run into the new home (its first calls there follow MOVED).
    const int finished = load.Finished();
    ASSERT_TRUE(testing::WaitFor([&] { return load.Finished() > finished; }, absl::Seconds(30)))
        << "no login finished after move " << moves;
  }
  load.Stop();
  EXPECT_GE(overlapping(), 5) << "the logins never met a moving slot in " << moves << " moves";

  int succeeded = 0;
  for (const PasswordLoginLoad::Outcome& o : load.outcomes()) {
    EXPECT_EQ(o.code, grpc::StatusCode::OK) << o.login_id << " " << o.message;
    if (o.wrong_password) {
      EXPECT_NE(o.status, opb::LOGIN_STATUS_SUCCEEDED) << o.login_id;
    } else {
      succeeded += o.status == opb::LOGIN_STATUS_SUCCEEDED;
    }
  }
  EXPECT_GT(succeeded, 0);
}

}  // namespace
}  // namespace tally::faults
