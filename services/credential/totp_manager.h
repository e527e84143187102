#pragma once

// Authenticator apps (AUTH_METHOD_TOTP): enrolment, confirmation, removal and the check during
// a login. The secret never leaves the service after StartTotpEnrollment's answer; at rest it is
// sealed with AES-256-GCM under --totp_encryption_key, with the directory and user as
// additional data, so a row copied to another user does not open.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/policy/directory_source.h"
#include "common/util/random.h"
#include "services/credential/factor_guard.h"
#include "services/credential/factor_store.h"
#include "services/credential/totp.h"
#include "tally/credential/v1/credential.pb.h"

namespace tally::credential {

namespace pb = ::tally::credential::v1;

struct TotpOptions {
  TotpParams params;  // SHA-1, 6 digits, 30 s, ±1 step: what every app does
  // Secret length: 160 bits, RFC 4226's recommendation for SHA-1.
  int secret_bytes = 20;
  // How long an unconfirmed enrolment waits for its first code.
  absl::Duration enrollment_ttl = absl::Minutes(10);
  // AES-256 key (32 bytes) sealing secrets, and its id, stored as the first byte of every
  // sealed secret. Rotation (not built yet) adds keys under new ids: rows name the key that
  // opens them, so old rows stay readable while they are re-sealed.
  std::string encryption_key;
  uint8_t key_id = 1;
};

class TotpManager {
 public:
  // Everything referenced must outlive the manager.
  TotpManager(FactorGuard& guard, FactorStore& store, CredentialStore& users,
              DirectoryNameSource& names, RandomSource& random, TotpOptions options);

  absl::StatusOr<pb::StartTotpEnrollmentResponse> StartTotpEnrollment(
      const Caller& caller, const pb::StartTotpEnrollmentRequest& request);
  absl::StatusOr<pb::ConfirmTotpEnrollmentResponse> ConfirmTotpEnrollment(
      const Caller& caller, const pb::ConfirmTotpEnrollmentRequest& request);
  absl::StatusOr<pb::DeleteTotpResponse> DeleteTotp(const Caller& caller,
                                                    const pb::DeleteTotpRequest& request);
  absl::StatusOr<pb::VerifyTotpResponse> VerifyTotp(const Caller& caller,
                                                    const pb::VerifyTotpRequest& request);

 private:
  std::string Seal(const std::string& secret, const std::string& directory_id,
                   const std::string& user_id);
  // DATA_LOSS when the row does not open (another key id, another user's row, tampering).
  absl::StatusOr<std::string> Open(const TotpSecret& sealed) const;
  // The step `code` matches, refusing malformed codes (any answer but a step is "wrong").
  std::optional<int64_t> Match(const std::string& secret, const std::string& code) const;
  absl::StatusOr<pb::User> CurrentUser(const std::string& user_id);

  FactorGuard& guard_;
  FactorStore& store_;
  CredentialStore& users_;
  DirectoryNameSource& names_;
  RandomSource& random_;
  TotpOptions options_;
};

}  // namespace tally::credential
