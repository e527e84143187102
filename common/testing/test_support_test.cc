#include "common/testing/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace tally::testing {
namespace {

// Each pick keeps a descriptor open for the life of the process: stay well below a 1024 limit.
constexpr int kPicks = 400;
constexpr int kPicksInOneProcess = 100;

bool Bindable(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

TEST(FreePortTest, NeverHandsOutAPortTwiceInOneProcess) {
  std::set<int> seen;
  for (int i = 0; i < kPicksInOneProcess; ++i) {
    const int port = FreePort();
    ASSERT_GE(port, 20000);
    ASSERT_LT(port, 32768);  // below the ephemeral range
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice";
    EXPECT_TRUE(Bindable(port));
  }
}

// Two test processes picking at the same time never get the same port: with 12,768 ports and
// 400 picks each, unreserved random picks would collide almost surely (birthday bound).
TEST(FreePortTest, NeverHandsOutAPortToTwoProcesses) {
  int pipe_fds[2];
  int done_fds[2];  // closed by the parent once it has picked: the child lives (and holds its
                    // reservations) until then
  ASSERT_EQ(pipe(pipe_fds), 0);
  ASSERT_EQ(pipe(done_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    close(done_fds[1]);
    std::vector<int> ports;
    for (int i = 0; i < kPicks; ++i) ports.push_back(FreePort());
    const ssize_t bytes = static_cast<ssize_t>(ports.size() * sizeof(int));
    const bool sent = write(pipe_fds[1], ports.data(), ports.size() * sizeof(int)) == bytes;
    char c;
    while (read(done_fds[0], &c, 1) > 0) {
    }
    _exit(sent ? 0 : 1);
  }
  close(pipe_fds[1]);
  close(done_fds[0]);
  std::set<int> mine;
  for (int i = 0; i < kPicks; ++i) mine.insert(FreePort());
  close(done_fds[1]);
  std::vector<int> theirs(kPicks);
  size_t got = 0;
  while (got < theirs.size() * sizeof(int)) {
    const ssize_t n = read(pipe_fds[0], reinterpret_cast<char*>(theirs.data()) + got,
                           theirs.size() * sizeof(int) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, theirs.size() * sizeof(int));
  for (int port : theirs) {
    ASSERT_NE(port, 0);
    EXPECT_FALSE(mine.contains(port)) << "port " << port << " went to both processes";
  }
}

TEST(MetricSumTest, SumsTheSamplesOfOneMetricWithTheGivenLabels) {
  const std::string body =
      "# HELP tally_otp_deliveries_total Deliveries.\n"
      "# TYPE tally_otp_deliveries_total counter\n"
      "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"http\"} 3\n"
      "tally_otp_deliveries_total{outcome=\"skipped\",provider=\"http\"} 2\n"
      "tally_otp_deliveries_total{outcome=\"delivered\",provider=\"smtp\"} 4\n"
      "tally_otp_deliveries_total_created{outcome=\"delivered\"} 1700000000\n"
      "tally_otp_stream_backlog 7\n";
  EXPECT_EQ(MetricSum(body, "tally_otp_deliveries_total"), 9);
  EXPECT_EQ(MetricSum(body, "tally_otp_deliveries_total", {"outcome=\"delivered\""}), 7);
  EXPECT_EQ(MetricSum(body, "tally_otp_deliveries_total",
                      {"outcome=\"delivered\"", "provider=\"smtp\""}),
            4);
  EXPECT_EQ(MetricSum(body, "tally_otp_stream_backlog"), 7);
  EXPECT_EQ(MetricSum(body, "tally_otp_stream"), 0);  // a prefix is not a name
  EXPECT_EQ(MetricSum(body, "tally_otp_stream_backlog", {"7"}), 0);  // labels, not the value
  EXPECT_EQ(MetricSum("", "tally_otp_stream_backlog"), 0);
}

}  // namespace
}  // namespace tally::testing
