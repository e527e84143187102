#include "common/testing/test_keys.h"

#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/pki.h"
#include "gtest/gtest.h"

namespace tally::testing {
namespace {

// 32 random bytes in hex, as deploy/k8s/overlays/dev/make-dev-keys.sh makes a service key.
absl::StatusOr<std::string> RandomHexKey() {
  CommandResult rand = RunCommand({"/usr/bin/openssl", "rand", "-hex", "32"});
  if (rand.exit_code != 0) {
    return absl::InternalError(absl::StrCat("openssl rand failed: ", rand.output));
  }
  return std::string(absl::StripAsciiWhitespace(rand.output));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TestKeys>> TestKeys::Make() {
  auto dir = std::make_unique<TempDir>();
  Pki pki(dir->path());
  if (absl::Status made = pki.MakeSigningKey("signing"); !made.ok()) return made;
  const std::string key_path = pki.Path("signing.key");
  CommandResult jwks = RunCommand({absl::StrCat(BinDir(), "/tallyctl"), "jwks", key_path});
  if (jwks.exit_code != 0) {
    return absl::InternalError(absl::StrCat("tallyctl jwks failed: ", jwks.output));
  }
  const std::string jwks_path = pki.Path("jwks.json");
  std::ofstream(jwks_path) << jwks.output;
  absl::StatusOr<JwtSigner> signer = JwtSigner::FromPemFile(key_path);
  if (!signer.ok()) return signer.status();
  absl::StatusOr<std::string> totp_key = RandomHexKey();
  if (!totp_key.ok()) return totp_key.status();
  absl::StatusOr<std::string> recovery_key = RandomHexKey();
  if (!recovery_key.ok()) return recovery_key.status();
  return std::shared_ptr<const TestKeys>(new TestKeys(std::move(dir), key_path, jwks_path,
                                                      *std::move(signer), *std::move(totp_key),
                                                      *std::move(recovery_key)));
}

TestKeys::TestKeys(std::unique_ptr<TempDir> dir, std::string signing_key_path,
                   std::string jwks_path, JwtSigner signer, std::string totp_encryption_key,
                   std::string recovery_code_hmac_key)
    : dir_(std::move(dir)),
      signing_key_path_(std::move(signing_key_path)),
      jwks_path_(std::move(jwks_path)),
      platform_key_(absl::StrCat("test-platform-key-", UniqueSuffix())),
      signer_(std::move(signer)),
      totp_encryption_key_(std::move(totp_encryption_key)),
      recovery_code_hmac_key_(std::move(recovery_code_hmac_key)) {}

std::map<std::string, std::string> TestKeys::Env() const {
  return {{"TALLY_PLATFORM_KEY", platform_key_},
          {"TALLY_JWKS_FILE", jwks_path_},
          {"TALLY_SIGNING_KEY_FILES", signing_key_path_},
          {"TALLY_TOTP_ENCRYPTION_KEY", totp_encryption_key_},
          {"TALLY_RECOVERY_CODE_HMAC_KEY", recovery_code_hmac_key_}};
}

std::string TestKeys::Token(const TokenSpec& spec) const {
  const SessionClaims claims = TestClaims(spec, absl::Now());
  absl::StatusOr<std::string> token = signer_.Sign(claims);
  if (!token.ok()) {
    ADD_FAILURE() << "Token(): " << token.status();
    return "";
  }
  return *token;
}

}  // namespace tally::testing
