#include "common/server/health_monitor.h"

#include <atomic>
#include <map>
#include <vector>

#include "common/logging/logging.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

class HealthMonitorTest : public ::testing::Test {
 protected:
  HealthMonitor MakeMonitor() {
    return HealthMonitor(
        absl::Milliseconds(10), [this](bool serving) { changes_.push_back(serving); },
        [this](const std::string& store, bool up) { stores_[store] = up; },
        GetLogger("health-test"));
  }
  std::vector<bool> changes_;
  std::map<std::string, bool> stores_;
};

TEST_F(HealthMonitorTest, ServingOnlyWhileEveryStoreAnswers) {
  HealthMonitor monitor = MakeMonitor();
  absl::Status postgres = absl::OkStatus();
  absl::Status redis = absl::OkStatus();
  monitor.AddCheck("postgres", [&] { return postgres; });
  monitor.AddCheck("redis", [&] { return redis; });

  EXPECT_TRUE(monitor.CheckNow());
  postgres = absl::UnavailableError("down");
  EXPECT_FALSE(monitor.CheckNow());
  EXPECT_FALSE(stores_["postgres"]);
  EXPECT_TRUE(stores_["redis"]);
  EXPECT_FALSE(monitor.CheckNow());  // no second transition
  postgres = absl::OkStatus();
  EXPECT_TRUE(monitor.CheckNow());
  EXPECT_EQ(changes_, (std::vector<bool>{true, false, true}));
}

TEST_F(HealthMonitorTest, WithoutChecksIsServing) {
  HealthMonitor monitor = MakeMonitor();
  EXPECT_TRUE(monitor.CheckNow());
}

TEST_F(HealthMonitorTest, BackgroundThreadProbesUntilStopped) {
  std::atomic<int> probes{0};
  HealthMonitor monitor = MakeMonitor();
  monitor.AddCheck("store", [&] {
    ++probes;
    return absl::OkStatus();
  });
  monitor.Start();
  while (probes.load() < 3) std::this_thread::yield();
  monitor.Stop();
  const int after_stop = probes.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(probes.load(), after_stop);
}

}  // namespace
}  // namespace tally
