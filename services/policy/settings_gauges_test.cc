#include "services/policy/settings_gauges.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "services/policy/points.h"
#include "services/policy/testing/fake_policy_store.h"

namespace tally::policy {
namespace {

// tally_policy_sms_countries_unrestricted by its `sms` label, as a scrape would show it.
std::map<std::string, double> Unrestricted(prometheus::Registry& registry) {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "tally_policy_sms_countries_unrestricted") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "sms") values[label.value] = metric.gauge.value;
      }
    }
  }
  return values;
}

void AddDirectory(FakePolicyStore& store, const std::string& id, Tier tier,
                  std::vector<std::string> countries = {}) {
  Directory directory;
  directory.set_directory_id(id);
  directory.set_tier(tier);
  AuthSettings settings = *DefaultSettingsForTier(tier);
  settings.set_directory_id(id);
  for (std::string& code : countries) settings.add_sms_allowed_country_codes(std::move(code));
  ASSERT_TRUE(store.CreateDirectory(directory, settings, AuditEvent()).ok());
}

TEST(SettingsGaugesTest, CountDirectoriesThatLetSmsGoEverywhere) {
  FakePolicyStore store;
  prometheus::Registry registry;
  SettingsGauges gauges(store, registry);
  EXPECT_EQ(Unrestricted(registry), (std::map<std::string, double>{{"enabled", 0},
                                                                   {"disabled", 0}}));
  AddDirectory(store, "dir_a", ::tally::policy::v1::TIER_FREEMIUM);  // SMS on, every country
  AddDirectory(store, "dir_b", ::tally::policy::v1::TIER_EXPLORER, {"31"});
  AddDirectory(store, "dir_c", ::tally::policy::v1::TIER_ENTERPRISE);  // SMS off
  AddDirectory(store, "dir_d", ::tally::policy::v1::TIER_FREEMIUM);
  ASSERT_TRUE(gauges.Refresh().ok());
  EXPECT_EQ(Unrestricted(registry), (std::map<std::string, double>{{"enabled", 2},
                                                                   {"disabled", 1}}));

  // A store outage keeps the last counts (the health check reports the store).
  store.status_ = absl::UnavailableError("postgres unavailable");
  EXPECT_EQ(gauges.Refresh().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Unrestricted(registry), (std::map<std::string, double>{{"enabled", 2},
                                                                   {"disabled", 1}}));
}

}  // namespace
}  // namespace tally::policy
