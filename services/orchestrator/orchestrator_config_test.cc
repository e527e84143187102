#include "services/orchestrator/orchestrator_config.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/config/config_for_test.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::orchestrator {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh Ed25519 private key in PKCS#8 PEM at `path`, as `openssl genpkey` writes it.
void WriteSigningKey(const std::string& path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(key, nullptr);
  FILE* out = std::fopen(path.c_str(), "w");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(out);
  EVP_PKEY_free(key);
}

class OrchestratorServerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteSigningKey(key_); }

  absl::StatusOr<OrchestratorServerConfig> Config(std::vector<std::string> flags) {
    flags.insert(flags.begin(),
                 {"--redis_url=redis://cache:6379", absl::StrCat("--signing_key_files=", key_)});
    return ConfigFromFlagsForTest(flags, [this] { return OrchestratorServerConfigFromFlags(clock_); });
  }
  std::string Refusal(std::vector<std::string> flags) {
    return std::string(Config(std::move(flags)).status().message());
  }

  const std::string key_ = ::testing::TempDir() + "/orchestrator_config_test_signing.pem";
  testing::FakeClock clock_;
};

TEST_F(OrchestratorServerConfigTest, Defaults) {
  absl::StatusOr<OrchestratorServerConfig> config = Config({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "0.0.0.0:50050");
  EXPECT_EQ(config->redis.host, "cache");
  EXPECT_EQ(config->redis.client_name, "tally-orchestrator");
  EXPECT_EQ(config->redis.pool_size, 16);
  ASSERT_NE(config->signing_keys, nullptr);
  EXPECT_EQ(config->signing_keys->issuer(), "tally");
  EXPECT_EQ(config->signing_key_files, std::vector<std::string>{key_});
  EXPECT_EQ(config->session_lifetime, absl::Hours(8));
  EXPECT_EQ(config->login.login_ttl, absl::Minutes(10));
  EXPECT_EQ(config->lockout.threshold, 5);
  EXPECT_EQ(config->lockout.permanent_threshold, 100);
  EXPECT_EQ(config->start_limits.per_client_per_minute, 60);
  EXPECT_EQ(config->start_limits.per_directory_per_minute, 3000);
  EXPECT_EQ(config->lockout.first_lock, absl::Minutes(1));
  EXPECT_EQ(config->lockout.max_lock, absl::Hours(1));
  EXPECT_EQ(config->lockout.forget_after, absl::Hours(24));
  EXPECT_EQ(config->peers.policy_addr, "127.0.0.1:50051");
  EXPECT_EQ(config->peers.credential_addr, "127.0.0.1:50052");
  EXPECT_EQ(config->peers.otp_addr, "127.0.0.1:50053");
  EXPECT_EQ(config->peers.passkey_addr, "127.0.0.1:50054");
  EXPECT_EQ(config->peers.calls.timeout, absl::Seconds(2));
  EXPECT_EQ(config->peers.calls.read_attempts, 3);
  EXPECT_EQ(config->peers.settings_cache_ttl, absl::Seconds(2));
  EXPECT_EQ(config->peers.user_max_stale, absl::Minutes(5));
}

TEST_F(OrchestratorServerConfigTest, SeveralKeysAndAnIssuer) {
  const std::string old_key = ::testing::TempDir() + "/orchestrator_config_test_old.pem";
  WriteSigningKey(old_key);
  absl::StatusOr<OrchestratorServerConfig> config =
      Config({absl::StrCat("--signing_key_files=", key_, ",", old_key), "--jwt_issuer=acme",
              "--otp_addr=dns:///tally-otp:50053", "--settings_cache_ttl=0s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->signing_key_files, (std::vector<std::string>{key_, old_key}));
  EXPECT_EQ(config->signing_keys->issuer(), "acme");
  EXPECT_EQ(config->peers.otp_addr, "dns:///tally-otp:50053");
  EXPECT_EQ(config->peers.settings_cache_ttl, absl::ZeroDuration());
}

TEST_F(OrchestratorServerConfigTest, RefusesBadValues) {
  EXPECT_EQ(Refusal({"--redis_url="}), "--redis_url (or --redis_cluster_nodes) is required");
  EXPECT_EQ(Refusal({"--redis_pool_size=0"}), "--redis_pool_size must be >= 1");
  EXPECT_EQ(Refusal({"--signing_key_files= , "}), "--signing_key_files is required");
  EXPECT_EQ(Refusal({"--signing_key_files=/nonexistent/key.pem"}),
            "signing key: cannot read /nonexistent/key.pem: No such file or directory");
  const std::string not_a_key = ::testing::TempDir() + "/orchestrator_config_test_not_a_key.pem";
  std::ofstream(not_a_key) << "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  EXPECT_THAT(Refusal({"--signing_key_files=" + not_a_key}),
              HasSubstr("not an unencrypted Ed25519 private key PEM"));
  EXPECT_EQ(Refusal({"--session_lifetime=30s"}), "--session_lifetime must be between 1m and 720h");
  EXPECT_EQ(Refusal({"--session_lifetime=721h"}),
            "--session_lifetime must be between 1m and 720h");
  EXPECT_EQ(Refusal({"--login_ttl=2h"}), "--login_ttl must be between 1m and 1h");
  EXPECT_EQ(Refusal({"--lockout_threshold=0"}), "--lockout_threshold must be 1..100");
  EXPECT_THAT(Refusal({"--start_login_per_client_per_minute=-1"}),
              StartsWith("--start_login_per_client_per_minute and"));
  for (const char* flag :
       {"--lockout_permanent_threshold=101", "--lockout_permanent_threshold=4"}) {
    EXPECT_EQ(Refusal({flag}), "--lockout_permanent_threshold must be --lockout_threshold..100")
        << flag;
  }
  for (const char* flag : {"--lockout_duration=0s", "--lockout_max_duration=30s",
                           "--lockout_forget_after=30s"}) {
    EXPECT_THAT(Refusal({flag}), StartsWith("--lockout_duration must be >= 1s")) << flag;
  }
  for (const char* flag : {"--peer_timeout=0s", "--peer_read_attempts=0"}) {
    EXPECT_EQ(Refusal({flag}), "--peer_timeout must be > 0 and --peer_read_attempts >= 1")
        << flag;
  }
  EXPECT_EQ(Refusal({"--settings_cache_ttl=11s"}),
            "--settings_cache_ttl must be between 0s and 10s");
  EXPECT_EQ(Refusal({"--user_max_stale=-1s"}), "--user_max_stale must be between 0s and 1h");
  EXPECT_EQ(Refusal({"--tls_ca=/etc/tally/ca.crt"}),
            "--tls_cert, --tls_key and --tls_ca go together");
}

}  // namespace
}  // namespace tally::orchestrator
