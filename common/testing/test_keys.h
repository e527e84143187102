#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/jwt.h"
#include "common/testing/test_claims.h"
#include "common/testing/test_support.h"

// The secrets a test's services share, made the way operators make them (tools/dev, deploy/):
// the orchestrator's Ed25519 session-token signing key (openssl, through Pki), the JWKS every
// other service verifies tokens with (`tallyctl jwks`), a platform key, and the credential
// service's second-factor keys (`openssl rand -hex 32`), without which it does not start.
namespace tally::testing {

class TestKeys {
 public:
  // Fresh keys in a temporary directory of their own (needs tallyctl in BinDir()).
  static absl::StatusOr<std::shared_ptr<const TestKeys>> Make();

  TestKeys(const TestKeys&) = delete;
  TestKeys& operator=(const TestKeys&) = delete;

  const std::string& signing_key_path() const { return signing_key_path_; }
  const std::string& jwks_path() const { return jwks_path_; }
  const std::string& platform_key() const { return platform_key_; }
  const JwtSigner& signer() const { return signer_; }

  // How a service gets them: TALLY_PLATFORM_KEY, TALLY_JWKS_FILE, TALLY_SIGNING_KEY_FILES,
  // TALLY_TOTP_ENCRYPTION_KEY, TALLY_RECOVERY_CODE_HMAC_KEY.
  std::map<std::string, std::string> Env() const;

  // A session token of `spec` issued now, as the orchestrator would sign it; "" and a test
  // failure if the spec is one the signer refuses.
  std::string Token(const TokenSpec& spec) const;

 private:
  TestKeys(std::unique_ptr<TempDir> dir, std::string signing_key_path, std::string jwks_path,
           JwtSigner signer, std::string totp_encryption_key,
           std::string recovery_code_hmac_key);

  std::unique_ptr<TempDir> dir_;
  std::string signing_key_path_;
  std::string jwks_path_;
  std::string platform_key_;
  JwtSigner signer_;
  // Hex: the AES-256-GCM key of TOTP secrets at rest and the HMAC key of recovery codes.
  std::string totp_encryption_key_;
  std::string recovery_code_hmac_key_;
};

}  // namespace tally::testing
