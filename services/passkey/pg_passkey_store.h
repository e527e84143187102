#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/postgres/migrations.h"
#include "common/postgres/pg_pool.h"
#include "services/passkey/passkey_store.h"

namespace tally::passkey {

// PasskeyStore on PostgreSQL, in a schema of its own. Binary values are stored base64url.
class PgPasskeyStore final : public PasskeyStore {
 public:
  PgPasskeyStore(std::shared_ptr<PgPool> pool, std::string schema);

  static const std::vector<Migration>& Migrations();
  absl::Status Migrate();

  absl::StatusOr<std::string> GetOrCreateUserHandle(absl::string_view directory_id,
                                                    absl::string_view user_id,
                                                    absl::string_view candidate) override;
  absl::Status CreatePasskey(const PasskeyRecord& record) override;
  absl::StatusOr<PasskeyRecord> GetPasskey(absl::string_view credential_id) override;
  absl::StatusOr<std::vector<PasskeyRecord>> ListPasskeys(absl::string_view directory_id,
                                                          absl::string_view user_id) override;
  absl::Status RecordUse(absl::string_view credential_id, uint32_t expected_count,
                         uint32_t new_count, bool backup_state, absl::Time when) override;
  absl::Status DeletePasskey(absl::string_view directory_id, absl::string_view user_id,
                             absl::string_view credential_id) override;
  absl::StatusOr<std::optional<RpConfig>> GetRpOverride(absl::string_view directory_id) override;
  absl::Status Ping() override;

 private:
  std::string Table(absl::string_view name) const;

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
};

}  // namespace tally::passkey
