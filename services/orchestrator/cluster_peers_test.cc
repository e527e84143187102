#include "services/orchestrator/cluster_peers.h"

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace tally::orchestrator {
namespace {

ClusterPeersConfig Config() {
  ClusterPeersConfig config;
  config.policy_addr = "127.0.0.1:1";
  config.credential_addr = "127.0.0.1:2";
  config.otp_addr = "127.0.0.1:3";
  config.passkey_addr = "127.0.0.1:4";
  config.calls.timeout = absl::Milliseconds(200);
  config.calls.read_attempts = 1;
  config.settings_cache_ttl = absl::Seconds(5);
  config.user_max_stale = absl::Minutes(1);
  return config;
}

TEST(ClusterPeersTest, DescribeNamesEveryPeersTarget) {
  EXPECT_EQ(Config().Describe(),
            "policy=127.0.0.1:1 credential=127.0.0.1:2 otp=127.0.0.1:3 passkey=127.0.0.1:4");
}

// Nothing listens on these ports: each peer answers in its own service's name, so none is
// wired to another's client.
TEST(ClusterPeersTest, EachPeerIsItsOwnServicesClient) {
  testing::FakeClock clock;
  ClusterPeers peers(Config(), PeerChannels(TlsFiles()), clock);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  EXPECT_EQ(peers.policy.GetAuthSettings("dir_1", deadline).status().message(),
            "policy service unavailable");
  EXPECT_EQ(peers.credential.GetUser("usr_1", deadline).status().message(),
            "credential service unavailable");
  EXPECT_EQ(peers.credential_service.GetUser("usr_1", deadline).status().message(),
            "credential service unavailable");
  EXPECT_EQ(peers.otp.VerifyCode({}, deadline).status().message(), "otp service unavailable");
  EXPECT_EQ(peers.passkey.StartAuthentication("dir_1", "usr_1", deadline).status().message(),
            "passkey service unavailable");
}

}  // namespace
}  // namespace tally::orchestrator
