#include "common/testing/test_keys.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/pki.h"
#include "gtest/gtest.h"

namespace tally::testing {

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
  return std::shared_ptr<const TestKeys>(
      new TestKeys(std::move(dir), key_path, jwks_path, *std::move(signer)));
}

TestKeys::TestKeys(std::unique_ptr<TempDir> dir, std::string signing_key_path,
                   std::string jwks_path, JwtSigner signer)
    : dir_(std::move(dir)),
      signing_key_path_(std::move(signing_key_path)),
      jwks_path_(std::move(jwks_path)),
      platform_key_(absl::StrCat("test-platform-key-", UniqueSuffix())),
      signer_(std::move(signer)) {}

std::map<std::string, std::string> TestKeys::Env() const {
  return {{"TALLY_PLATFORM_KEY", platform_key_},
          {"TALLY_JWKS_FILE", jwks_path_},
          {"TALLY_SIGNING_KEY_FILES", signing_key_path_}};
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
