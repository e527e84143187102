#include "services/passkey/passkey_config.h"

#include <fstream>

#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::passkey {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

absl::StatusOr<PasskeyServerConfig> Config(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"--postgres_url=postgresql://tally@db/tally",
                               "--redis_url=redis://cache:6379"});
  return ConfigFromFlagsForTest(flags, PasskeyServerConfigFromFlags);
}

std::string Refusal(std::vector<std::string> flags) {
  return std::string(Config(std::move(flags)).status().message());
}

TEST(PasskeyServerConfigTest, Defaults) {
  absl::StatusOr<PasskeyServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:50054");
  EXPECT_EQ(config->postgres_schema, "passkey");
  EXPECT_EQ(config->redis.host, "cache");
  EXPECT_EQ(config->redis.client_name, "tally-passkey");
  EXPECT_EQ(config->redis.pool_size, RedisOptions().pool_size);
  EXPECT_EQ(config->policy_addr, "127.0.0.1:50051");
  EXPECT_EQ(config->policy_timeout, absl::Seconds(2));
  const RpConfig& rp = config->passkey.default_rp;
  EXPECT_EQ(rp.rp_id, "localhost");
  EXPECT_EQ(rp.rp_name, "Tally");
  EXPECT_THAT(rp.origins, ElementsAre("http://localhost:8080"));
  EXPECT_EQ(rp.user_verification, "preferred");
  EXPECT_FALSE(rp.allow_cross_origin);
  EXPECT_THAT(rp.top_origins, IsEmpty());
  EXPECT_EQ(config->passkey.challenge_ttl, absl::Minutes(5));
  EXPECT_EQ(config->passkey.rp_cache_ttl, absl::Seconds(2));
  EXPECT_EQ(config->passkey.trust_anchors, nullptr);
}

TEST(PasskeyServerConfigTest, RelyingPartyLists) {
  absl::StatusOr<PasskeyServerConfig> config =
      Config({"--rp_id=example.org", "--rp_origins= https://example.org, https://login.example.org ,",
              "--allow_cross_origin", "--top_origins=https://portal.example.net",
              "--user_verification=required", "--rp_cache_ttl=0s"});
  ASSERT_TRUE(config.ok()) << config.status();
  const RpConfig& rp = config->passkey.default_rp;
  EXPECT_EQ(rp.rp_id, "example.org");
  EXPECT_THAT(rp.origins, ElementsAre("https://example.org", "https://login.example.org"));
  EXPECT_TRUE(rp.allow_cross_origin);
  EXPECT_THAT(rp.top_origins, ElementsAre("https://portal.example.net"));
  EXPECT_EQ(rp.user_verification, "required");
  EXPECT_EQ(config->passkey.rp_cache_ttl, absl::ZeroDuration());
}

TEST(PasskeyServerConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url is required");
  EXPECT_EQ(Refusal({"--postgres_url="}), "--postgres_url is required");
  EXPECT_EQ(Refusal({"--rp_id="}), "--rp_id is required");
  EXPECT_EQ(Refusal({"--rp_origins= , "}), "--rp_origins needs an origin");
  EXPECT_EQ(Refusal({"--user_verification=always"}),
            "--user_verification must be required, preferred or discouraged");
  EXPECT_EQ(Refusal({"--challenge_ttl=0s"}), "--challenge_ttl must be in (0, 1h]");
  EXPECT_EQ(Refusal({"--challenge_ttl=61m"}), "--challenge_ttl must be in (0, 1h]");
  EXPECT_EQ(Refusal({"--rp_cache_ttl=-1s"}), "--rp_cache_ttl must be in [0, 1m]");
  EXPECT_EQ(Refusal({"--rp_cache_ttl=2m"}), "--rp_cache_ttl must be in [0, 1m]");
  EXPECT_EQ(Refusal({"--policy_timeout=0s"}), "--policy_timeout must be > 0");
  EXPECT_EQ(Refusal({"--attestation_ca_file=/nonexistent/ca.pem"}),
            "cannot read --attestation_ca_file");
  const std::string not_pem = ::testing::TempDir() + "/not_a_ca.pem";
  std::ofstream(not_pem) << "no certificate here\n";
  EXPECT_EQ(Refusal({"--attestation_ca_file=" + not_pem}),
            "--attestation_ca_file: no PEM certificate in the CA bundle");
  const std::string bad_redis = Refusal({"--redis_url=rediss://:hunter2@cache"});
  EXPECT_THAT(bad_redis, StartsWith("--redis_url: "));
  EXPECT_THAT(bad_redis, Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace tally::passkey
