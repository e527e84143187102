#pragma once

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/postgres/pg_pool.h"
#include "spdlog/logger.h"

// The flags every PostgreSQL-backed service shares. Each service defines its own
// --postgres_schema, whose default is its name.
ABSL_DECLARE_FLAG(std::string, postgres_url);
ABSL_DECLARE_FLAG(int, postgres_pool_size);
ABSL_DECLARE_FLAG(absl::Duration, startup_timeout);

namespace tally {

// PgOptions from --postgres_url and --postgres_pool_size; INVALID_ARGUMENT when the URL is
// missing or the pool size is below 1.
absl::StatusOr<PgOptions> PgOptionsFromFlags();

// Runs `migrate` until it succeeds. Replicas start together and PostgreSQL may come up after
// them, so UNAVAILABLE is retried every second for --startup_timeout, with one log line per try;
// any other error, or still UNAVAILABLE after the timeout, is returned.
absl::Status MigrateAtStartup(absl::FunctionRef<absl::Status()> migrate, spdlog::logger& logger);

// The store of a PostgreSQL-backed service: `Store(pool, schema)` on a new pool of `options`,
// its schema migrated by MigrateAtStartup (Store::Migrate). A migration that still fails is
// returned with its code as "cannot migrate schema <schema>: <why>".
template <typename Store>
absl::StatusOr<std::unique_ptr<Store>> MigratedPgStore(const PgOptions& options,
                                                      const std::string& schema,
                                                      spdlog::logger& logger) {
  auto store = std::make_unique<Store>(std::make_shared<PgPool>(options), schema);
  if (absl::Status s = MigrateAtStartup([&store] { return store->Migrate(); }, logger); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot migrate schema ", schema, ": ", s.message()));
  }
  return store;
}

}  // namespace tally
