#include "common/postgres/pg_flags.h"

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "common/logging/logging.h"

ABSL_FLAG(std::string, postgres_url, "",
          "PostgreSQL URL (libpq URI); may hold a password, so prefer TALLY_POSTGRES_URL.");
ABSL_FLAG(int, postgres_pool_size, 8, "PostgreSQL connections at most.");
ABSL_FLAG(absl::Duration, startup_timeout, absl::Seconds(60),
          "How long start-up waits for PostgreSQL to apply the schema before giving up.");

namespace tally {

absl::StatusOr<PgOptions> PgOptionsFromFlags() {
  PgOptions options;
  options.url = absl::GetFlag(FLAGS_postgres_url);
  options.pool_size = absl::GetFlag(FLAGS_postgres_pool_size);
  if (options.url.empty()) return absl::InvalidArgumentError("--postgres_url is required");
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("--postgres_pool_size must be >= 1");
  }
  return options;
}

absl::Status MigrateAtStartup(absl::FunctionRef<absl::Status()> migrate, spdlog::logger& logger) {
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_startup_timeout);
  for (absl::Status s = migrate();; s = migrate()) {
    if (s.ok() || s.code() != absl::StatusCode::kUnavailable || absl::Now() > give_up) return s;
    logger.warn("waiting for PostgreSQL: {}", s);
    absl::SleepFor(absl::Seconds(1));
  }
}

}  // namespace tally
