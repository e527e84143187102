#include "services/policy/policy_config.h"

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/auth/revocation_flags.h"
#include "common/config/config.h"
#include "common/postgres/pg_flags.h"

ABSL_FLAG(std::string, postgres_schema, "policy", "Schema this service owns and migrates.");
ABSL_FLAG(absl::Duration, settings_metrics_interval, absl::Minutes(1),
          "How often the gauges about every directory's settings "
          "(tally_policy_sms_countries_unrestricted) are counted again in PostgreSQL.");

namespace tally::policy {
namespace {

constexpr int kDefaultPort = 50051;

}  // namespace

absl::StatusOr<PolicyServerConfig> PolicyServerConfigFromFlags() {
  PolicyServerConfig config;
  config.postgres_schema = absl::GetFlag(FLAGS_postgres_schema);
  absl::Status s = TakeValue(ServerOptionsFromFlags(kDefaultPort), &config.server);
  if (s.ok()) s = TakeValue(PgOptionsFromFlags(), &config.postgres);
  if (s.ok()) s = TakeValue(RevocationRedisFromFlags("tally-policy"), &config.revocation_redis);
  if (!s.ok()) return s;
  config.settings_metrics_interval = absl::GetFlag(FLAGS_settings_metrics_interval);
  if (config.settings_metrics_interval <= absl::ZeroDuration() ||
      config.settings_metrics_interval > absl::Hours(1)) {
    return absl::InvalidArgumentError("--settings_metrics_interval must be > 0s and at most 1h");
  }
  return config;
}

}  // namespace tally::policy
