// libFuzzer: whole compact JWS strings, as a caller sends them, through JwtVerifier::Verify and
// through the Authenticator's "Bearer <token>" parsing in front of it. The seeds are real tokens
// of the fuzz key, so mutations reach every check of the header, the encoding and the signature.
//
// Invariants: the two paths agree; every refusal is UNAUTHENTICATED with a fixed phrase that
// cannot echo the token; a token that verifies carries a valid signature of its signing input.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/caller.h"
#include "common/auth/fuzz/fuzz_keys.h"
#include "common/auth/jwt.h"
#include "common/util/text.h"

namespace {

using tally::fuzz::Fail;

const tally::Authenticator& Auth() {
  static const tally::Authenticator* auth = new tally::Authenticator(
      "fuzz-platform-key-0123456789",
      std::make_shared<const tally::JwtVerifier>(tally::fuzz::Verifier()));
  return *auth;
}

// Refusals are "invalid session token: <reason>" with a short reason in words ("expired", "bad
// signature"), which cannot carry the dots, digits and base64url of any part of a token.
bool IsFixedPhrase(absl::string_view message) {
  constexpr absl::string_view kPrefix = "invalid session token: ";
  if (!absl::StartsWith(message, kPrefix)) return false;
  const absl::string_view reason = message.substr(kPrefix.size());
  if (reason.empty() || reason.size() > 40) return false;
  for (char c : reason) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c)) && c != ' ' && c != '_') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string token(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<tally::SessionClaims> claims = tally::fuzz::Verifier().Verify(token);
  if (!claims.ok()) {
    if (claims.status().code() != absl::StatusCode::kUnauthenticated) Fail();
    if (!IsFixedPhrase(claims.status().message())) Fail();
  } else {
    const size_t dot = token.rfind('.');
    std::string signature;
    if (dot == std::string::npos || !tally::Base64UrlDecode(token.substr(dot + 1), &signature) ||
        !tally::fuzz::Signer().PublicKey().Verify(std::string_view(token).substr(0, dot),
                                                  signature)) {
      Fail();
    }
    if (claims->issuer != tally::fuzz::kIssuer || claims->subject.empty() ||
        claims->directory_id.empty() || claims->session_id.empty()) {
      Fail();
    }
  }

  // The same token behind "Bearer ": the Authenticator skips the spaces after the scheme, then
  // wants one token without blanks, and must then reach the verifier's verdict.
  const absl::StatusOr<tally::Caller> caller =
      Auth().Authenticate(std::nullopt, absl::StrCat("Bearer ", token));
  const size_t start = token.find_first_not_of(' ');
  const std::string trimmed = start == std::string::npos ? "" : token.substr(start);
  if (trimmed.empty() || trimmed.find_first_of(" \t") != std::string::npos) {
    if (caller.ok()) Fail();
  } else {
    const absl::StatusOr<tally::SessionClaims> expected =
        trimmed == token ? claims : tally::fuzz::Verifier().Verify(trimmed);
    if (caller.ok() != expected.ok()) Fail();
    if (caller.ok() &&
        (caller->kind != tally::Caller::Kind::kUser || caller->claims != *expected)) {
      Fail();
    }
  }
  if (!caller.ok() && caller.status().code() != absl::StatusCode::kUnauthenticated) Fail();
  return 0;
}
