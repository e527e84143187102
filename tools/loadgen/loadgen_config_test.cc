#include "tools/loadgen/loadgen_config.h"

#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::loadgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kKey[] = "--platform_key=platform-key-for-tests";

absl::StatusOr<LoadgenConfig> Config(const std::vector<std::string>& flags) {
  return ConfigFromFlagsForTest(flags, LoadgenConfigFromFlags);
}

std::string Refusal(const std::vector<std::string>& flags) {
  return std::string(Config(flags).status().message());
}

TEST(LoadgenConfigTest, DefaultsAndLists) {
  absl::StatusOr<LoadgenConfig> config =
      Config({kKey, "--scenarios=password,passkey", "--redis_cluster_nodes=10.0.0.1:7000",
              "--output=/tmp/result.json"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->run.driver.endpoints.orchestrator, "127.0.0.1:50050");
  EXPECT_EQ(config->run.driver.platform_key, "platform-key-for-tests");
  EXPECT_THAT(config->run.scenarios, ElementsAre("password", "passkey"));
  EXPECT_EQ(config->run.concurrency, 16);
  EXPECT_EQ(config->run.duration, absl::Seconds(10));
  ASSERT_EQ(config->run.redis_cluster_nodes.size(), 1u);
  EXPECT_EQ(config->run.redis_cluster_nodes[0].port, 7000);
  EXPECT_EQ(config->output, "/tmp/result.json");
}

TEST(LoadgenConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({}), "--platform_key (TALLY_PLATFORM_KEY) is needed for set-up");
  EXPECT_EQ(Refusal({kKey, "--concurrency=0"}),
            "--concurrency, --users, --setup_parallelism and --max_in_flight must be at least 1");
  EXPECT_EQ(Refusal({kKey, "--max_in_flight=0"}),
            "--concurrency, --users, --setup_parallelism and --max_in_flight must be at least 1");
  EXPECT_THAT(Refusal({kKey, "--redis_cluster_nodes=nohost"}), HasSubstr("--redis_cluster_nodes: "));
  EXPECT_TRUE(absl::IsInvalidArgument(Config({kKey, "--concurrency=0"}).status()));
}

}  // namespace
}  // namespace tally::loadgen
