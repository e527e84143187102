// libFuzzer: JWK Sets as --jwks_file hands them to JwtVerifier::FromJwks.
//
// Invariants: a refusal is INVALID_ARGUMENT; an accepted set re-exports (ToJwks) to a set that
// is accepted again with the same kids and the same export; and a token of the fuzz key verifies
// under the set only if the set published that key under the token's kid.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth/fuzz/fuzz_keys.h"
#include "common/auth/jwt.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace {

using tally::fuzz::Fail;

// A token of the fuzz key with the kid the seeds use (its RFC 7638 thumbprint).
const std::string& FuzzToken() {
  static const std::string* token = [] {
    tally::SessionClaims claims;
    claims.issuer = tally::fuzz::kIssuer;
    claims.subject = "usr_fuzz";
    claims.directory_id = "dir_fuzz";
    claims.session_id = "ses_fuzz";
    claims.issued_at = tally::fuzz::Frozen().Now();
    claims.auth_time = claims.issued_at;
    claims.expires_at = claims.issued_at + absl::Hours(1);
    return new std::string(*tally::fuzz::Signer().Sign(claims));
  }();
  return *token;
}

// True when `jwks` (our own export) lists the fuzz key under `kid`.
bool Publishes(const std::string& jwks, const std::string& kid) {
  const std::string x = tally::Base64UrlEncode(tally::fuzz::Signer().PublicKey().Raw());
  const nlohmann::json parsed = nlohmann::json::parse(jwks, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("keys")) return false;
  for (const nlohmann::json& key : parsed["keys"]) {
    if (key.value("kid", "") == kid && key.value("x", "") == x) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<tally::JwtVerifier> verifier =
      tally::JwtVerifier::FromJwks(text, tally::fuzz::Options(), tally::fuzz::Frozen());
  if (!verifier.ok()) {
    if (verifier.status().code() != absl::StatusCode::kInvalidArgument) Fail();
    return 0;
  }
  if (verifier->Kids().empty()) Fail();

  const std::string exported = verifier->ToJwks();
  const absl::StatusOr<tally::JwtVerifier> again =
      tally::JwtVerifier::FromJwks(exported, tally::fuzz::Options(), tally::fuzz::Frozen());
  if (!again.ok() || again->Kids() != verifier->Kids() || again->ToJwks() != exported) Fail();

  if (verifier->Verify(FuzzToken()).ok() &&
      !Publishes(exported, tally::fuzz::Signer().kid())) {
    Fail();
  }
  return 0;
}
