#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/postgres/pg_pool.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"

namespace tally::policy {

// Everything tally-policy takes from its flags (and their TALLY_* variables), checked.
struct PolicyServerConfig {
  ServerOptions server;         // the shared server flags; port 50051 by default
  PgOptions postgres;           // --postgres_url, --postgres_pool_size
  std::string postgres_schema;  // --postgres_schema: the schema this service owns and migrates
  // --redis_url (required): the revocation records every bearer token is checked against.
  RedisOptions revocation_redis;
  // --settings_metrics_interval: how often SettingsGauges counts again.
  absl::Duration settings_metrics_interval = absl::Minutes(1);
};

// INVALID_ARGUMENT naming the flag when a value is bad.
absl::StatusOr<PolicyServerConfig> PolicyServerConfigFromFlags();

}  // namespace tally::policy
