#pragma once

#include <memory>
#include <string>

#include "common/postgres/pg_pool.h"
#include "services/credential/device_store.h"

namespace tally::credential {

// DeviceStore on PostgreSQL, in the credential schema (PgCredentialStore's migration 2), so a
// password change can forget the user's devices in its own transaction (ForgetAll).
class PgDeviceStore final : public DeviceStore {
 public:
  PgDeviceStore(std::shared_ptr<PgPool> pool, std::string schema);

  absl::Status CreateDevice(const Device& device, absl::string_view token_hash) override;
  absl::StatusOr<Device> UseDevice(absl::string_view directory_id, absl::string_view user_id,
                                   absl::string_view token_hash, absl::Time created_after,
                                   absl::Time now) override;
  absl::StatusOr<std::vector<Device>> ListDevices(absl::string_view directory_id,
                                                  absl::string_view user_id,
                                                  absl::Time created_after) override;
  absl::Status DeleteDevice(absl::string_view directory_id, absl::string_view user_id,
                            absl::string_view device_id) override;

  // Forgets every device of the user inside `tx`, the caller's open transaction (DESIGN.md §1
  // rule 9: a password change forgets them in the transaction that changes the password).
  // `schema` is the credential schema.
  static void ForgetAll(pqxx::work& tx, absl::string_view schema, absl::string_view user_id);

 private:
  std::string Table() const;
  std::string Columns() const;

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
};

}  // namespace tally::credential
