#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/policy/policy_store.h"

namespace tally::policy {

// Gauges about the settings of every directory, counted in the store rather than per call, so
// every replica exports the same numbers (alert on max() across replicas):
//   tally_policy_sms_countries_unrestricted{sms="enabled"|"disabled"}: directories whose
//   sms_allowed_country_codes is empty, so SMS may go to every country (SMS pumping, DESIGN.md
//   §6), split by whether SMS codes are enabled; an alert on sms="enabled" > 0 names the risk.
class SettingsGauges {
 public:
  SettingsGauges(PolicyStore& store, prometheus::Registry& registry);
  ~SettingsGauges();  // stops the background counting

  // Counts once. On a store failure the gauges keep their last values (health reports the
  // store) and the error is returned.
  absl::Status Refresh();

  // Refresh() now and then every `interval` in a background thread, until destruction.
  void Start(absl::Duration interval);

 private:
  PolicyStore& store_;
  prometheus::Family<prometheus::Gauge>& unrestricted_;
  prometheus::Gauge& sms_enabled_;
  prometheus::Gauge& sms_disabled_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tally::policy
