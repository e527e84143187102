// A peer scaled out and rolled: two credential replicas behind one target, as the orchestrator
// reaches them in Kubernetes through a headless Service (deploy/README.md). Calls are spread
// over both replicas call by call, and when one gets SIGTERM the orchestrator stops
// sending to it while it still serves (it reports NOT_SERVING for --drain_grace), so logins
// running all the while never see an error; the replica, started again, gets calls again.

#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::kClusterPassword;

// Calls of the orchestrator (FindUser, VerifyPassword, ...) `name` has answered so far. All of
// them, not VerifyPassword alone: one login thread makes its credential calls in a fixed
// order, so strict round robin over two replicas can send every VerifyPassword to the same one.
double Calls(Cluster& cluster, const std::string& name) {
  absl::StatusOr<std::string> body =
      testing::HttpGet(cluster.service(name).metrics_port(), "/metrics");
  if (!body.ok()) return -1;
  return MetricSum(*body, "grpc_server_handled_total",
                   {"grpc_method=\"/tally.credential.v1.CredentialService/"});
}

// One password login; "" when it succeeded, else what went wrong.
std::string PasswordLogin(Cluster& cluster, const std::string& dir, const std::string& username) {
  opb::LoginState state;
  grpc::Status s = StartLogin(cluster.logins(0), dir, username, &state);
  if (!s.ok()) return absl::StrCat("StartLogin: ", Describe(s));
  s = SubmitPassword(cluster.logins(0), state.login_id(), kClusterPassword, &state);
  if (!s.ok()) return absl::StrCat("SubmitPassword: ", Describe(s));
  if (state.status() != opb::LOGIN_STATUS_SUCCEEDED) {
    return absl::StrCat("login ended ", opb::LoginStatus_Name(state.status()));
  }
  return "";
}

TEST(PeerReplicasTest, ChecksSpreadOverReplicasAndARolledReplicaCostsNoLogin) {
  ClusterOptions options;
  options.orchestrators = 1;
  options.credentials = 2;
  options.metrics = true;
  // The production grace; the rest of the cluster keeps the test default (none).
  options.flags["credential"] = {"--drain_grace=1s", "--drain_timeout=5s"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());
  const std::vector<std::string> replicas = cluster.credential_names();
  ASSERT_EQ(replicas.size(), 2u);

  const std::string dir = cluster.CreateDirectory(polpb::TIER_PROFESSIONAL);
  cluster.CreateUser(dir, "spread");

  // Call by call, not pinned to one connection: both replicas serve.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(PasswordLogin(cluster, dir, "spread"), "");
  for (const std::string& name : replicas) {
    EXPECT_GE(Calls(cluster, name), 5) << name << " got (almost) none of 10 logins' calls";
  }

  // Logins all the while; credential-a is rolled under them.
  std::atomic<bool> stop{false};
  std::atomic<int> logins{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::thread load([&] {
    while (!stop) {
      std::string failure = PasswordLogin(cluster, dir, "spread");
      if (failure.empty()) {
        ++logins;
      } else {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back(failure);
      }
    }
  });
  auto wait_logins = [&](int more) {
    const int target = logins + more;
    return testing::WaitFor([&] { return logins >= target; }, absl::Seconds(60));
  };
  EXPECT_TRUE(wait_logins(5));
  testing::Subprocess& rolled = cluster.service(replicas[0]).process();
  rolled.Signal(SIGTERM);
  absl::StatusOr<int> exit = rolled.Wait(absl::Seconds(30));
  EXPECT_TRUE(exit.ok() && *exit == 0) << "the replica did not drain cleanly";
  EXPECT_TRUE(wait_logins(5)) << "no logins while one replica was down";
  ASSERT_TRUE(cluster.Restart(replicas[0]).ok());
  // Back in rotation: the restarted replica (its counters start at zero) serves again.
  EXPECT_TRUE(testing::WaitFor([&] { return Calls(cluster, replicas[0]) > 0; },
                               absl::Seconds(30)))
      << "the restarted replica got no calls";
  stop = true;
  load.join();
  std::lock_guard<std::mutex> lock(mu);
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_GT(logins, 10);
}

}  // namespace
}  // namespace tally::faults
