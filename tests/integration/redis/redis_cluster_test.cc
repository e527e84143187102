// RedisClient in cluster mode against a real Redis Cluster of the test's own (three primaries,
// three replicas, tools/dev redis-cluster-start on free ports): slots as Redis computes them,
// routing, scripts per node, MOVED/ASK/TRYAGAIN while a slot migrates, a primary killed, and
// writes that wait for a replica.

#include <signal.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis/key_slot.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_cluster.h"
#include "common/util/deadline.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::LocalRedisCluster;

// A password on every node: cluster mode must authenticate on every connection it opens.
constexpr char kPassword[] = "cluster-test-password";

class RedisClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LocalRedisCluster::Options options;
    options.password = kPassword;
    cluster_ = new LocalRedisCluster(options);
    start_ = cluster_->Start();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(start_.ok()) << start_;
    client_ = std::make_shared<RedisClient>(cluster_->ClientOptions());
  }

  // A key whose slot is served by a primary other than the one of `other` (when given).
  static std::string KeyOnAnotherPrimary(const std::string& other, const std::string& prefix) {
    const int other_primary = *cluster_->PrimaryOf(KeySlot(other));
    for (int i = 0;; ++i) {
      std::string key = absl::StrCat(prefix, i);
      if (*cluster_->PrimaryOf(KeySlot(key)) != other_primary) return key;
    }
  }

  static LocalRedisCluster* cluster_;
  static absl::Status start_;
  std::shared_ptr<RedisClient> client_;
};

LocalRedisCluster* RedisClusterTest::cluster_ = nullptr;
absl::Status RedisClusterTest::start_;

TEST_F(RedisClusterTest, KeySlotAgreesWithClusterKeyslot) {
  RedisClient& node = cluster_->Node(cluster_->ports()[0]);
  std::mt19937 rng(7);
  std::vector<std::string> keys = {"", "{", "}", "{}", "{}{a}", "{a}{b}", "a{b}c", "{{a}}",
                                   "{dir_x}:login:lgn_1-dir_x", "{dir_x}:rl:lock:alice",
                                   "otp:deliveries", std::string("\0\xff{\x01}", 5)};
  for (int i = 0; i < 400; ++i) {
    std::string key;
    const int length = static_cast<int>(rng() % 24);
    for (int j = 0; j < length; ++j) {
      // Mostly printable, with braces often enough to exercise the tag rules, and any byte.
      const uint32_t pick = rng() % 10;
      key.push_back(pick == 0 ? '{' : pick == 1 ? '}' : pick == 2 ? static_cast<char>(rng() % 256)
                                                                   : static_cast<char>('a' + rng() % 26));
    }
    keys.push_back(key);
  }
  for (const std::string& key : keys) {
    absl::StatusOr<RedisReply> slot = node.Command({"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(slot.ok()) << slot.status();
    EXPECT_EQ(KeySlot(key), slot->integer()) << "key of " << key.size() << " bytes";
  }
}

TEST_F(RedisClusterTest, EveryCommandGoesToThePrimaryOfItsSlot) {
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i) keys.push_back(absl::StrCat("{route-", i, "}:k"));
  for (const std::string& key : keys) {
    ASSERT_TRUE(client_->Command({"SET", key, key, "EX", "60"}).ok());
  }
  // No redirection: the map was right for every slot from the first load on.
  EXPECT_EQ(client_->redirections(), 0);
  EXPECT_EQ(client_->slot_map_loads(), 1);
  for (const std::string& key : keys) {
    // The key lives on the node the map names and nowhere else.
    const int primary = *cluster_->PrimaryOf(KeySlot(key));
    for (const int port : cluster_->ports()) {
      absl::StatusOr<RedisReply> here = cluster_->Node(port).Command({"GET", key});
      ASSERT_TRUE(here.ok() || absl::StrContains(here.status().message(), "MOVED"))
          << here.status();
      if (port == primary) {
        ASSERT_TRUE(here.ok()) << here.status();
        EXPECT_EQ(here->str(), key);
      }
    }
    absl::StatusOr<RedisReply> got = client_->Command({"GET", key});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->str(), key);
  }
  // Keyless commands go to any primary; commands on every primary reach all three.
  EXPECT_TRUE(client_->Ping().ok());
  absl::StatusOr<std::vector<RedisReply>> info = client_->CommandOnEveryPrimary({"INFO", "server"});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size(), 3u);
}

TEST_F(RedisClusterTest, KeysSpanningSlotsAreRefusedBeforeSending) {
  const int64_t before = client_->round_trips();
  const RedisScript script("return redis.call('GET', KEYS[1])");
  absl::StatusOr<RedisReply> reply =
      client_->Eval(script, {"{dir_a}:otp:secret-id", "otp:deliveries"}, {});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(reply.status().message(), HasSubstr("CROSSSLOT"));
  EXPECT_THAT(reply.status().message(), Not(HasSubstr("secret-id")));
  absl::StatusOr<RedisReply> del = client_->Command({"DEL", "{a}x", "{b}x"});
  EXPECT_EQ(del.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(client_->round_trips(), before);
  // One hash tag: one slot, fine.
  EXPECT_TRUE(client_->Command({"DEL", "{a}x", "{a}y"}).ok());
}

TEST_F(RedisClusterTest, ScriptsAreCachedPerNode) {
  const RedisScript script("return redis.call('INCR', KEYS[1])");
  // One key per primary.
  std::vector<std::string> keys;
  std::vector<int> primaries;
  for (int i = 0; keys.size() < 3; ++i) {
    const std::string key = absl::StrCat("{script-", i, "}");
    const int primary = *cluster_->PrimaryOf(KeySlot(key));
    if (std::find(primaries.begin(), primaries.end(), primary) != primaries.end()) continue;
    primaries.push_back(primary);
    keys.push_back(key);
  }
  for (const int port : cluster_->ports()) {
    ASSERT_TRUE(cluster_->Node(port).Command({"SCRIPT", "FLUSH"}).ok());
  }
  for (const std::string& key : keys) {
    absl::StatusOr<RedisReply> reply = client_->Eval(script, {key}, {});
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  EXPECT_EQ(client_->script_reloads(), 3) << "each primary loads the script once";
  for (const std::string& key : keys) {
    absl::StatusOr<RedisReply> reply = client_->Eval(script, {key}, {});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->integer(), 2);
  }
  EXPECT_EQ(client_->script_reloads(), 3);
}

TEST_F(RedisClusterTest, NoCallPastTheDeadline) {
  ASSERT_TRUE(client_->Ping().ok());
  const int64_t before = client_->round_trips();
  {
    ScopedDeadline passed(absl::Now() - absl::Milliseconds(1));
    absl::StatusOr<RedisReply> reply = client_->Command({"GET", "{deadline}"});
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(reply.status().message(), HasSubstr("deadline"));
  }
  EXPECT_EQ(client_->round_trips(), before + 0) << "nothing is sent once the deadline passed";
  // A client without the password is refused on every node, without echoing anything.
  RedisOptions anonymous = cluster_->ClientOptions();
  anonymous.password.clear();
  anonymous.retry_timeout = absl::Milliseconds(300);
  RedisClient stranger(anonymous);
  absl::StatusOr<RedisReply> refused = stranger.Command({"GET", "{deadline}"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

TEST_F(RedisClusterTest, MigratingSlotAskThenTryagainThenMoved) {
  const std::string a = "{migrate}:a";
  const std::string b = "{migrate}:b";
  const int slot = KeySlot(a);
  const int from = *cluster_->PrimaryOf(slot);
  const int to = *cluster_->PrimaryOf(KeySlot(KeyOnAnotherPrimary(a, "{other}:")));
  ASSERT_TRUE(client_->Command({"SET", a, "A"}).ok());
  ASSERT_TRUE(client_->Command({"SET", b, "B"}).ok());
  const RedisScript both("return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}");

  // Move one key of the slot, then look while the other is still at the source.
  int batches = 0;
  std::thread patient;
  absl::StatusOr<RedisReply> waited;
  RedisOptions impatient = cluster_->ClientOptions();
  impatient.retry_timeout = absl::Milliseconds(400);
  RedisClient hurried(impatient);
  ASSERT_TRUE(hurried.Ping().ok());
  absl::Status moved = cluster_->MigrateSlot(slot, to, 1, [&] {
    if (++batches != 2) return;
    // One key is at the target now: the source answers ASK for it, and the client asks there.
    const int64_t redirections = client_->redirections();
    std::string migrated;
    for (const std::string& key : {a, b}) {
      absl::StatusOr<RedisReply> value = client_->Command({"GET", key});
      ASSERT_TRUE(value.ok()) << value.status();
      EXPECT_EQ(value->str(), key == a ? "A" : "B");
    }
    EXPECT_EQ(client_->redirections(), redirections + 1) << "one of the two keys was ASKed";
    // A script on both keys cannot run on either node (TRYAGAIN); retried until it gives up.
    absl::StatusOr<RedisReply> split = hurried.Eval(both, {a, b}, {});
    EXPECT_EQ(split.status().code(), absl::StatusCode::kUnavailable) << split.status();
    EXPECT_THAT(split.status().message(), HasSubstr("TRYAGAIN"));
    // A patient one outlasts the migration: it runs once the last key has moved.
    patient = std::thread([&] { waited = client_->Eval(both, {a, b}, {}); });
  });
  if (patient.joinable()) patient.join();
  ASSERT_TRUE(moved.ok()) << moved;
  EXPECT_EQ(batches, 2);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->elements()[0].str(), "A");
  EXPECT_EQ(waited->elements()[1].str(), "B");
  // The hurried client's map still names the source: MOVED, followed, the map loaded again.
  const int64_t loads = hurried.slot_map_loads();
  absl::StatusOr<RedisReply> after = hurried.Eval(both, {a, b}, {});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->elements()[1].str(), "B");
  EXPECT_GT(hurried.slot_map_loads(), loads);
  EXPECT_EQ(*cluster_->PrimaryOf(slot), to);
  EXPECT_NE(from, to);
}

TEST_F(RedisClusterTest, ReplicatedWritesWaitForAReplica) {
  RedisOptions options = cluster_->ClientOptions();
  options.min_replica_acks = 1;
  RedisClient durable(options);
  const std::string key = "{durable}:revoked";
  ASSERT_TRUE(durable.Command({"SET", key, "1", "EX", "60"}, RedisDurability::kReplicated).ok());
  const int64_t round_trips = durable.round_trips();
  ASSERT_TRUE(durable.Command({"SET", key, "2", "EX", "60"}, RedisDurability::kReplicated).ok());
  EXPECT_EQ(durable.round_trips() - round_trips, 2) << "the write and its WAIT";

  // Its replica frozen, the same write cannot be confirmed: UNAVAILABLE, within the deadline.
  const int primary = *cluster_->PrimaryOf(KeySlot(key));
  const int replica = *cluster_->ReplicaOf(primary);
  ASSERT_TRUE(cluster_->Signal(replica, SIGSTOP).ok());
  absl::StatusOr<RedisReply> unconfirmed;
  {
    ScopedDeadline deadline(absl::Now() + absl::Milliseconds(500));
    unconfirmed = durable.Command({"SET", key, "3", "EX", "60"}, RedisDurability::kReplicated);
  }
  absl::StatusOr<RedisReply> unguarded = durable.Command({"SET", key, "4", "EX", "60"});
  ASSERT_TRUE(cluster_->Signal(replica, SIGCONT).ok());
  EXPECT_EQ(unconfirmed.status().code(), absl::StatusCode::kUnavailable) << unconfirmed.status();
  EXPECT_THAT(unconfirmed.status().message(), HasSubstr("replica"));
  EXPECT_TRUE(unguarded.ok()) << unguarded.status() << ": kPrimary writes never wait";

  // Nobody to confirm two copies in a cluster with one replica per primary.
  options.min_replica_acks = 2;
  options.command_timeout = absl::Milliseconds(300);
  RedisClient greedy(options);
  EXPECT_EQ(greedy.Command({"SET", key, "5"}, RedisDurability::kReplicated).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RedisClusterTest, PrimaryKilledItsReplicaTakesOverWithoutANewClient) {
  const std::string key = "{failover}:k";
  const int slot = KeySlot(key);
  ASSERT_TRUE(client_->Command({"SET", key, "before"}).ok());
  // Keys elsewhere keep working throughout.
  const std::string elsewhere = KeyOnAnotherPrimary(key, "{elsewhere}:");
  const int primary = *cluster_->PrimaryOf(slot);
  ASSERT_TRUE(client_->Command({"GET", key}).ok());  // a pooled connection to the primary
  ASSERT_TRUE(cluster_->Kill(primary).ok());
  // A client whose retries outlast the failover just answers, a little later.
  absl::StatusOr<RedisReply> after;
  std::thread patient([&] { after = client_->Command({"GET", key}); });

  RedisOptions options = cluster_->ClientOptions();
  options.retry_timeout = absl::Milliseconds(300);
  RedisClient impatient(options);
  std::atomic<bool> done{false};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::thread load([&] {
    while (!done) {
      const absl::Time start = absl::Now();
      absl::StatusOr<RedisReply> reply;
      {
        ScopedDeadline deadline(start + absl::Milliseconds(700));
        reply = impatient.Command({"GET", key});
      }
      // Never past the deadline (with room for a busy machine), never a wrong answer.
      EXPECT_LT(absl::Now() - start, absl::Seconds(2));
      if (reply.ok()) {
        EXPECT_EQ(reply->str(), "before");
      } else if (reply.status().code() == absl::StatusCode::kUnavailable) {
        ++unavailable;
      } else {
        ++other;
        ADD_FAILURE() << reply.status();
      }
      EXPECT_TRUE(impatient.Command({"GET", elsewhere}).ok());
      // Readiness holds: the other shards serve.
      EXPECT_TRUE(impatient.Ping().ok());
    }
  });
  const absl::Status took_over = cluster_->WaitForNewPrimary(slot, primary, absl::Seconds(30));
  patient.join();
  done = true;
  load.join();
  ASSERT_TRUE(took_over.ok()) << took_over;
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->str(), "before");
  EXPECT_GT(unavailable.load(), 0) << "the switch was not seen at all";
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(impatient.Command({"SET", key, "after"}).ok());
  // The old primary comes back as a replica of the new one.
  ASSERT_TRUE(cluster_->Start().ok());
  EXPECT_NE(*cluster_->PrimaryOf(slot), primary);
}

}  // namespace
}  // namespace tally
