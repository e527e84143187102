#include "services/policy/settings_gauges.h"

namespace tally::policy {

SettingsGauges::SettingsGauges(PolicyStore& store, prometheus::Registry& registry)
    : store_(store),
      unrestricted_(prometheus::BuildGauge()
                        .Name("tally_policy_sms_countries_unrestricted")
                        .Help("Directories whose SMS may go to every country (no "
                              "sms_allowed_country_codes), by whether SMS codes are enabled")
                        .Register(registry)),
      sms_enabled_(unrestricted_.Add({{"sms", "enabled"}})),
      sms_disabled_(unrestricted_.Add({{"sms", "disabled"}})) {}

SettingsGauges::~SettingsGauges() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status SettingsGauges::Refresh() {
  absl::StatusOr<SmsUnrestrictedCounts> counts = store_.CountSmsUnrestricted();
  if (!counts.ok()) return counts.status();
  sms_enabled_.Set(static_cast<double>(counts->sms_enabled));
  sms_disabled_.Set(static_cast<double>(counts->sms_disabled));
  return absl::OkStatus();
}

void SettingsGauges::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] {
    while (true) {
      (void)Refresh();  // an outage is the health check's to report
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stopping_; })) {
        return;
      }
    }
  });
}

}  // namespace tally::policy
