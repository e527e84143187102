#include "common/util/host_port.h"

#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(SplitHostPortTest, SplitsAtTheLastColon) {
  std::optional<HostPort> v4 = SplitHostPort("127.0.0.1:50051");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 50051);

  std::optional<HostPort> v6 = SplitHostPort("[::1]:8080");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 8080);

  std::optional<HostPort> any = SplitHostPort("0.0.0.0:0");
  ASSERT_TRUE(any.has_value());
  EXPECT_EQ(any->port, 0);
  EXPECT_EQ(SplitHostPort("localhost:65535")->port, 65535);
}

TEST(SplitHostPortTest, RefusesWhatIsNotHostAndPort) {
  for (const char* bad : {"", "localhost", ":80", "host:", "host:65536", "host:-1", "host:+80",
                          "host: 80", "host:80 ", "host:8x", "host:99999999999"}) {
    EXPECT_FALSE(SplitHostPort(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tally
