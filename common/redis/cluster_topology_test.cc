#include "common/redis/cluster_topology.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

RedisReply S(std::string s) { return RedisReply::String(std::move(s)); }
RedisReply I(int64_t n) { return RedisReply::Integer(n); }
RedisReply A(std::vector<RedisReply> e) { return RedisReply::Array(std::move(e)); }

RedisReply ShardNode(const std::string& ip, const std::string& endpoint, int port,
                     const std::string& role, const std::string& health = "online") {
  return A({S("id"), S("e10b7051d6bf2d5febd39a2be297bbaea6084111"), S("port"), I(port), S("ip"),
            S(ip), S("endpoint"), S(endpoint), S("role"), S(role), S("replication-offset"),
            I(72156), S("health"), S(health)});
}

const RedisNode kAsked{"10.0.0.9", 7000};

TEST(ParseClusterShardsTest, PrimariesReplicasAndSlots) {
  const RedisReply reply = A({
      A({S("slots"), A({I(0), I(5460)}), S("nodes"),
         A({ShardNode("127.0.0.1", "127.0.0.1", 30001, "master"),
            ShardNode("127.0.0.1", "127.0.0.1", 30004, "replica")})}),
      A({S("slots"), A({I(5461), I(10922), I(16000), I(16383)}), S("nodes"),
         A({ShardNode("127.0.0.1", "127.0.0.1", 30005, "replica"),
            ShardNode("127.0.0.1", "redis-2.internal", 30002, "master")})}),
      // A shard without slots (a new, empty primary) serves nothing.
      A({S("slots"), A({}), S("nodes"), A({ShardNode("127.0.0.1", "127.0.0.1", 30009, "master")})}),
  });
  absl::StatusOr<std::vector<ClusterShard>> shards = ParseClusterShards(reply, kAsked);
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 2u);
  EXPECT_EQ((*shards)[0].primary.address(), "127.0.0.1:30001");
  EXPECT_THAT((*shards)[0].slots, ElementsAre(Pair(0, 5460)));
  ASSERT_EQ((*shards)[0].replicas.size(), 1u);
  EXPECT_EQ((*shards)[0].replicas[0].port, 30004);
  // The endpoint wins over the ip: it is what the cluster asks clients to use.
  EXPECT_EQ((*shards)[1].primary.address(), "redis-2.internal:30002");
  EXPECT_THAT((*shards)[1].slots, ElementsAre(Pair(5461, 10922), Pair(16000, 16383)));
}

TEST(ParseClusterShardsTest, UnknownEndpointMeansTheNodeAskedAndFailedPrimaryGivesWay) {
  const RedisReply reply = A({A({S("slots"), A({I(0), I(16383)}), S("nodes"),
                                 A({ShardNode("", "?", 7001, "master", "failed"),
                                    ShardNode("", "", 7002, "master", "online")})})});
  absl::StatusOr<std::vector<ClusterShard>> shards = ParseClusterShards(reply, kAsked);
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ((*shards)[0].primary.address(), "10.0.0.9:7002");
}

TEST(ParseClusterShardsTest, RefusesOtherShapes) {
  for (const RedisReply& bad :
       {S("nope"), A({S("x")}), A({A({S("slots"), A({I(0)}), S("nodes"), A({})})}),
        A({A({S("slots"), A({I(5), I(2)}), S("nodes"), A({})})}),
        A({A({S("slots"), A({I(0), I(16384)}), S("nodes"), A({})})}),
        A({A({S("slots"), A({I(0), I(1)}), S("nodes"), A({A({S("role"), S("master")})})})})}) {
    EXPECT_EQ(ParseClusterShards(bad, kAsked).status().code(), absl::StatusCode::kInternal);
  }
}

TEST(ParseClusterSlotsTest, RangesWithPrimaryFirst) {
  const RedisReply reply = A({
      A({I(0), I(5460), A({S("127.0.0.1"), I(30001), S("id1")}),
         A({S("127.0.0.1"), I(30004), S("id4")})}),
      A({I(5461), I(16383), A({S(""), I(30002), S("id2")})}),
  });
  absl::StatusOr<std::vector<ClusterShard>> shards = ParseClusterSlots(reply, kAsked);
  ASSERT_TRUE(shards.ok()) << shards.status();
  ASSERT_EQ(shards->size(), 2u);
  EXPECT_EQ((*shards)[0].primary.address(), "127.0.0.1:30001");
  EXPECT_EQ((*shards)[0].replicas[0].address(), "127.0.0.1:30004");
  EXPECT_THAT((*shards)[1].slots, ElementsAre(Pair(5461, 16383)));
  EXPECT_EQ((*shards)[1].primary.address(), "10.0.0.9:30002");
  EXPECT_EQ(ParseClusterSlots(A({A({I(0), I(1)})}), kAsked).status().code(),
            absl::StatusCode::kInternal);
}

TEST(ParseRedirectTest, MovedAndAsk) {
  std::optional<Redirect> moved = ParseRedirect("MOVED 3999 127.0.0.1:6381", kAsked);
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node.address(), "127.0.0.1:6381");

  std::optional<Redirect> ask = ParseRedirect("ASK 12 ::1:7005", kAsked);
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->node.host, "::1");
  EXPECT_EQ(ask->node.address(), "[::1]:7005");

  // An unknown endpoint: the node that answered, on the port named.
  std::optional<Redirect> empty = ParseRedirect("MOVED 1 :7003", kAsked);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->node.address(), "10.0.0.9:7003");

  for (const char* other : {"ERR unknown", "MOVED", "MOVED x 1.2.3.4:5", "MOVED 16384 h:1",
                            "ASK 1 host", "ASK 1 host:0", "TRYAGAIN Multiple keys"}) {
    EXPECT_FALSE(ParseRedirect(other, kAsked).has_value()) << other;
  }
}

TEST(ParseRedisNodesTest, SeedList) {
  absl::StatusOr<std::vector<RedisNode>> nodes =
      ParseRedisNodes("redis-0.redis:6379, 10.1.2.3:7000,[::1]:7001");
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 3u);
  EXPECT_EQ((*nodes)[0].address(), "redis-0.redis:6379");
  EXPECT_EQ((*nodes)[1].address(), "10.1.2.3:7000");
  EXPECT_EQ((*nodes)[2].host, "::1");
  for (const char* bad : {"", " , ", "host", "host:", "host:0", "host:99999", ":7000", "::1:7000",
                          "[::1:7000", "h:1,nope"}) {
    absl::StatusOr<std::vector<RedisNode>> parsed = ParseRedisNodes(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(ParseRedisNodes("h:1,nope").status().message(), HasSubstr("\"nope\""));
}

}  // namespace
}  // namespace tally
