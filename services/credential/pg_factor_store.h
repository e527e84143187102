#pragma once

#include <memory>
#include <string>

#include "common/postgres/pg_pool.h"
#include "services/credential/factor_store.h"

namespace tally::credential {

// FactorStore on PostgreSQL, in the credential schema (tables of PgCredentialStore's migration
// 2), on the same pool as the users they belong to.
class PgFactorStore final : public FactorStore {
 public:
  PgFactorStore(std::shared_ptr<PgPool> pool, std::string schema);

  absl::Status PutTotpEnrollment(const TotpEnrollment& enrollment) override;
  absl::StatusOr<TotpEnrollment> GetTotpEnrollment(absl::string_view enrollment_id,
                                                   absl::Time now) override;
  absl::Status ConfirmTotpEnrollment(absl::string_view enrollment_id, int64_t step,
                                     absl::Time now) override;
  absl::StatusOr<TotpAuthenticator> GetTotp(absl::string_view user_id) override;
  absl::StatusOr<bool> AdvanceTotpStep(absl::string_view user_id, int64_t step) override;
  absl::StatusOr<bool> DeleteTotp(absl::string_view user_id) override;
  absl::Status ReplaceRecoveryCodes(absl::string_view directory_id, absl::string_view user_id,
                                    const std::vector<std::string>& code_macs,
                                    absl::Time now) override;
  absl::StatusOr<int> UseRecoveryCode(absl::string_view directory_id, absl::string_view user_id,
                                      absl::string_view code_mac, absl::Time now) override;
  absl::StatusOr<AttemptWindow> CountAttempt(absl::string_view user_id, absl::string_view method,
                                             absl::Duration window, absl::Time now) override;
  absl::Status ClearAttempts(absl::string_view user_id, absl::string_view method) override;

 private:
  std::string Table(absl::string_view name) const;

  std::shared_ptr<PgPool> pool_;
  std::string schema_;
};

}  // namespace tally::credential
