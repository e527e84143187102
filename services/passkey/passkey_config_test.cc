#include "services/passkey/passkey_config.h"

#include <fstream>

#include "common/config/config_for_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/passkey/testing/attestation_ca.h"
#include "services/passkey/webauthn/webauthn.h"

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
  // A touch alone is not a login (issue 19).
  EXPECT_EQ(rp.user_verification, "required");
  EXPECT_FALSE(rp.allow_cross_origin);
  EXPECT_THAT(rp.top_origins, IsEmpty());
  EXPECT_EQ(config->passkey.challenge_ttl, absl::Minutes(5));
  EXPECT_EQ(config->passkey.rp_cache_ttl, absl::Seconds(2));
  EXPECT_EQ(config->passkey.trust_anchors, nullptr);
  EXPECT_FALSE(config->passkey.require_attestation);
  EXPECT_THAT(config->passkey.allowed_aaguids, IsEmpty());
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

TEST(PasskeyServerConfigTest, OriginsAreWrittenAsBrowsersWriteThem) {
  absl::StatusOr<PasskeyServerConfig> config =
      Config({"--rp_origins=https://Example.org/,HTTPS://LOGIN.example.org:443,https://example.org",
              "--allow_cross_origin", "--top_origins=https://Portal.example.net:8443/"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->passkey.default_rp.origins,
              ElementsAre("https://example.org", "https://login.example.org"));
  EXPECT_THAT(config->passkey.default_rp.top_origins,
              ElementsAre("https://portal.example.net:8443"));
}

TEST(PasskeyServerConfigTest, RequireAttestationTakesAnchorsAndAllowedModels) {
  const webauthn::testing::AttestationCa vendor;
  const std::string ca_file = ::testing::TempDir() + "/attestation_ca.pem";
  std::ofstream(ca_file) << vendor.RootPem();
  const std::string list_file = ::testing::TempDir() + "/aaguids.txt";
  std::ofstream(list_file) << "# YubiKey 5 (USB-A)\n"
                              "CB69481E-8FF7-4039-93EC-0A2729A154A8  # firmware 5.1\n"
                              "\n  ee882879-721c-4913-9775-3dfcce97072a\n";
  absl::StatusOr<PasskeyServerConfig> config =
      Config({"--require_attestation", "--attestation_ca_file=" + ca_file,
              "--allowed_aaguids=2fc0579f-8113-47ea-b116-bb5a8db9202a",
              "--allowed_aaguids_file=" + list_file});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->passkey.require_attestation);
  EXPECT_NE(config->passkey.trust_anchors, nullptr);
  std::vector<std::string> allowed;
  for (const std::string& aaguid : config->passkey.allowed_aaguids) {
    allowed.push_back(webauthn::FormatAaguid(aaguid));
  }
  EXPECT_THAT(allowed, ElementsAre("2fc0579f-8113-47ea-b116-bb5a8db9202a",
                                   "cb69481e-8ff7-4039-93ec-0a2729a154a8",
                                   "ee882879-721c-4913-9775-3dfcce97072a"));

  EXPECT_EQ(Refusal({"--require_attestation", "--allowed_aaguids=" + allowed[0]}),
            "--require_attestation needs --attestation_ca_file");
  EXPECT_EQ(Refusal({"--require_attestation", "--attestation_ca_file=" + ca_file}),
            "--require_attestation needs --allowed_aaguids or --allowed_aaguids_file");
  EXPECT_EQ(Refusal({"--attestation_ca_file=" + ca_file, "--allowed_aaguids=" + allowed[0]}),
            "--allowed_aaguids needs --require_attestation");
  EXPECT_THAT(Refusal({"--require_attestation", "--attestation_ca_file=" + ca_file,
                       "--allowed_aaguids=yubikey"}),
              StartsWith("--allowed_aaguids: \"yubikey\" is not an AAGUID"));
  std::ofstream(list_file) << "cb69481e-8ff7-4039-93ec-0a2729a154a8,\n";
  EXPECT_THAT(Refusal({"--require_attestation", "--attestation_ca_file=" + ca_file,
                       "--allowed_aaguids_file=" + list_file}),
              StartsWith("--allowed_aaguids_file: \"cb69481e-8ff7-4039-93ec-0a2729a154a8,\""));
  EXPECT_THAT(Refusal({"--require_attestation", "--attestation_ca_file=" + ca_file,
                       "--allowed_aaguids_file=/nonexistent/aaguids.txt"}),
              StartsWith("--allowed_aaguids_file: cannot read /nonexistent/aaguids.txt"));
}

TEST(PasskeyServerConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url (or --redis_cluster_nodes) is required");
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
            "--attestation_ca_file: cannot read /nonexistent/ca.pem: No such file or directory");
  EXPECT_EQ(Refusal({"--rp_origins=https://example.org/login"}),
            "--rp_origins: \"https://example.org/login\" is not an origin: a path, query or "
            "fragment is not part of an origin (scheme://host[:port])");
  EXPECT_THAT(Refusal({"--rp_origins=https://example.org,example.org"}),
              StartsWith("--rp_origins: \"example.org\" is not an origin: no scheme"));
  EXPECT_THAT(Refusal({"--top_origins=https://portal.example.net:99999"}),
              StartsWith("--top_origins: \"https://portal.example.net:99999\" is not an origin"));
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
