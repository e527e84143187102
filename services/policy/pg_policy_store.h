#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/postgres/migrations.h"
#include "common/postgres/pg_pool.h"
#include "services/policy/policy_store.h"

namespace tally::policy {

// PolicyStore on PostgreSQL, in a schema of its own (DESIGN.md §3: no service reads another's
// tables).
class PgPolicyStore final : public PolicyStore {
 public:
  // `schema` must be a plain lower-case identifier; Migrate() checks it.
  PgPolicyStore(std::shared_ptr<PgPool> pool, std::string schema);

  // The schema's versioned migrations, applied at start-up.
  static const std::vector<Migration>& Migrations();
  absl::Status Migrate();

  absl::Status CreateDirectory(const Directory& directory, const AuthSettings& settings,
                               const AuditEvent& event) override;
  absl::StatusOr<Directory> GetDirectory(absl::string_view directory_id) override;
  absl::StatusOr<Page<Directory>> ListDirectories(int64_t cursor, int limit) override;
  absl::StatusOr<DirectorySettings> GetSettings(absl::string_view directory_id) override;
  absl::StatusOr<AuthSettings> UpdateSettings(const AuthSettings& next,
                                              absl::string_view expected_etag,
                                              AuditEvent event) override;
  absl::StatusOr<Page<AuditEvent>> ListAuditEvents(absl::string_view directory_id,
                                                   int64_t cursor, int limit) override;
  absl::StatusOr<SmsUnrestrictedCounts> CountSmsUnrestricted() override;
  absl::Status Ping() override;

 private:
  std::string Table(absl::string_view name) const;
  // One directory's settings row (with its tier) for $1, `suffix` appended (" FOR UPDATE OF s").
  std::string SettingsSelect(absl::string_view suffix = "") const;

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
};

}  // namespace tally::policy
