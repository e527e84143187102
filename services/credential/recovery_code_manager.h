#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/caller.h"
#include "common/util/random.h"
#include "services/credential/factor_guard.h"
#include "services/credential/factor_store.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

namespace pb = ::tally::credential::v1;

// Recovery codes (AUTH_METHOD_RECOVERY_CODE): a set of 10 made by the user, each used once
// during a login. Stored as MACs under --recovery_code_hmac_key (recovery_codes.h).
class RecoveryCodeManager {
 public:
  // `hmac_key`: at least 32 bytes. Everything referenced must outlive the manager.
  RecoveryCodeManager(FactorGuard& guard, FactorStore& store, RandomSource& random,
                      std::string hmac_key);

  absl::StatusOr<pb::GenerateRecoveryCodesResponse> GenerateRecoveryCodes(
      const Caller& caller, const pb::GenerateRecoveryCodesRequest& request);
  absl::StatusOr<pb::VerifyRecoveryCodeResponse> VerifyRecoveryCode(
      const Caller& caller, const pb::VerifyRecoveryCodeRequest& request);

 private:
  FactorGuard& guard_;
  FactorStore& store_;
  RandomSource& random_;
  std::string hmac_key_;
};

}  // namespace tally::credential
