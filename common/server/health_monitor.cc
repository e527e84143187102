#include "common/server/health_monitor.h"

namespace tally {

HealthMonitor::HealthMonitor(absl::Duration interval, Sink on_change, StoreSink on_store,
                             std::shared_ptr<spdlog::logger> logger)
    : interval_(interval),
      on_change_(std::move(on_change)),
      on_store_(std::move(on_store)),
      logger_(std::move(logger)) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::AddCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  probes_.push_back(Probe{std::move(name), std::move(check)});
}

bool HealthMonitor::CheckNow() {
  // Probes run outside the lock: a store that hangs until its timeout must not block Stop().
  std::vector<std::pair<std::string, Check>> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Probe& p : probes_) checks.emplace_back(p.name, p.check);
  }
  std::vector<absl::Status> results;
  results.reserve(checks.size());
  for (auto& [name, check] : checks) results.push_back(check());

  std::lock_guard<std::mutex> lock(mu_);
  bool all_up = true;
  for (size_t i = 0; i < results.size() && i < probes_.size(); ++i) {
    Probe& probe = probes_[i];
    const bool up = results[i].ok();
    all_up = all_up && up;
    if (!probe.reported || probe.up != up) {
      if (up) {
        logger_->info("store {} is reachable", probe.name);
      } else {
        logger_->warn("store {} is unreachable: {}", probe.name, results[i].message());
      }
      probe.up = up;
      probe.reported = true;
    }
    if (on_store_) on_store_(probe.name, up);
  }
  if (serving_ != static_cast<int>(all_up)) {
    serving_ = all_up;
    logger_->info("health: {}", all_up ? "SERVING" : "NOT_SERVING");
    if (on_change_) on_change_(all_up);
  }
  return all_up;
}

void HealthMonitor::Start() {
  thread_ = std::thread([this] {
    while (true) {
      CheckNow();
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stopping_; })) {
        return;
      }
    }
  });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tally
