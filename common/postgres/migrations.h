#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/postgres/pg_pool.h"

namespace tally {

struct Migration {
  int version;       // >= 1, strictly increasing within a list; never renumbered once shipped
  std::string name;  // recorded for operators
  std::string sql;   // one or more statements; unqualified names resolve to the schema
};

// Brings `schema` up to the last of `migrations`, in ONE transaction:
//   1. pg_advisory_xact_lock on a 64-bit key derived from the schema name, so replicas that
//      start together take turns (the second one then sees the first one's work);
//   2. CREATE SCHEMA IF NOT EXISTS and <schema>.schema_migrations(version, name, applied_at);
//   3. applies, in order, every migration newer than the highest recorded version, each with
//      SET LOCAL search_path TO <schema>, and records it.
// A failure rolls everything back. Runs under the pool's statement_timeout (waiting for the
// lock included).
//
// Errors: INVALID_ARGUMENT for a schema name not matching ^[a-z_][a-z0-9_]{0,62}$ (or
// starting with the reserved "pg_") or versions not strictly increasing from >= 1;
// FAILED_PRECONDITION when the database records a version newer than the last one given (an
// older binary must not run against a newer schema); otherwise the mapped database error,
// naming the failing migration.
absl::Status Migrate(PgPool& pool, std::string_view schema,
                     const std::vector<Migration>& migrations);

}  // namespace tally
