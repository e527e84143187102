#include "services/policy/policy_config.h"

#include "absl/flags/flag.h"
#include "common/auth/revocation_flags.h"
#include "common/config/config.h"
#include "common/postgres/pg_flags.h"

ABSL_FLAG(std::string, postgres_schema, "policy", "Schema this service owns and migrates.");

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
  return config;
}

}  // namespace tally::policy
