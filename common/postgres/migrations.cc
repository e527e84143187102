#include "common/postgres/migrations.h"

#include <exception>
#include <pqxx/transaction>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/postgres/pg_pool.h"

namespace tally {
namespace {

// Namespaces the advisory lock key so it cannot collide with other users of advisory locks.
constexpr char kLockPrefix[] = "tally.migrate:";

bool ValidSchemaName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (name.starts_with("pg_")) return false;  // reserved by PostgreSQL
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::Status Migrate(PgPool& pool, std::string_view schema_name,
                     const std::vector<Migration>& migrations) {
  // Debian's Abseil has its own string_view type; a std::string suits StrCat and pqxx.
  const std::string schema(schema_name);
  if (!ValidSchemaName(schema)) {
    // The name is ours (a constant in the service), so echoing it leaks nothing.
    return absl::InvalidArgumentError(absl::StrCat("invalid schema name \"", schema, "\""));
  }
  int last = 0;
  for (const Migration& m : migrations) {
    if (m.version <= last) {
      return absl::InvalidArgumentError(absl::StrCat("migration versions of schema ", schema,
                                                     " must increase strictly from 1; got ",
                                                     m.version, " after ", last));
    }
    last = m.version;
  }

  const Migration* failed = nullptr;  // the migration whose SQL threw, for the error message
  absl::Status status = pool.Transact([&](pqxx::work& w) -> absl::Status {
    // md5 rather than hashtext: hashtext is internal and not promised stable across major
    // versions, and replicas on either side of an upgrade must agree on the key.
    w.exec_params("SELECT pg_advisory_xact_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)",
                  absl::StrCat(kLockPrefix, schema));
    const std::string qschema = w.quote_name(schema);
    const std::string table = qschema + ".schema_migrations";
    w.exec("CREATE SCHEMA IF NOT EXISTS " + qschema);
    w.exec("CREATE TABLE IF NOT EXISTS " + table +
           " (version int PRIMARY KEY, name text NOT NULL,"
           " applied_at timestamptz NOT NULL DEFAULT now())");
    const int current = w.exec1("SELECT COALESCE(max(version), 0) FROM " + table)[0].as<int>();
    if (current > last) {
      return absl::FailedPreconditionError(
          absl::StrCat("schema ", schema, " is at version ", current,
                       ", newer than this binary's latest migration ", last));
    }
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      failed = &m;
      // Again before each one, in case the previous migration changed it.
      w.exec("SET LOCAL search_path TO " + qschema);
      w.exec(m.sql);
      w.exec_params("INSERT INTO " + table + " (version, name) VALUES ($1, $2)", m.version, m.name);
    }
    failed = nullptr;
    return absl::OkStatus();
  });
  if (!status.ok() && failed != nullptr) {
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), " in migration ", failed->version, " (",
                                     failed->name, ") of schema ", schema));
  }
  return status;
}

}  // namespace tally
