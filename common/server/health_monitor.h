#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/logging/logging.h"

namespace tally {

// Probes the stores a service needs on a fixed period and reports the result: serving only while
// every probe succeeds. Transitions are logged once, not on every probe.
class HealthMonitor {
 public:
  using Check = std::function<absl::Status()>;
  using Sink = std::function<void(bool serving)>;
  using StoreSink = std::function<void(const std::string& store, bool up)>;

  HealthMonitor(absl::Duration interval, Sink on_change, StoreSink on_store,
                std::shared_ptr<spdlog::logger> logger);
  ~HealthMonitor();

  void AddCheck(std::string name, Check check);

  // Runs every check once and reports; returns whether all passed.
  bool CheckNow();

  void Start();  // probes in a background thread until Stop()
  void Stop();

 private:
  struct Probe {
    std::string name;
    Check check;
    bool up = true;
    bool reported = false;
  };

  const absl::Duration interval_;
  const Sink on_change_;
  const StoreSink on_store_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<Probe> probes_;
  int serving_ = -1;  // unknown until the first probe
  std::thread thread_;
};

}  // namespace tally
