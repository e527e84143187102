// libFuzzer: the JSON inside a session token. The input is "<header JSON>\0<payload JSON>" (or
// just the payload, under the header JwtSigner writes); the harness encodes and signs it with the
// fuzz key, so every mutation gets past the signature and reaches the header and claim checks.
//
// Invariants: a refusal is UNAUTHENTICATED; an accepted token had alg EdDSA and our kid (checked
// with a parser of its own), and claims that are valid at the frozen clock; and the accepted
// claims (the methods claim and amr_time too) survive JwtSigner::Sign -> Verify with only their
// times cut: iat to the millisecond (iat_ms), the others to whole seconds (Sign may only refuse
// them when exp is not after iat, which Verify does not demand).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth/fuzz/fuzz_keys.h"
#include "common/auth/jwt.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace {

using tally::fuzz::Fail;

absl::Time Truncated(absl::Time t) { return absl::FromUnixSeconds(absl::ToUnixSeconds(t)); }
std::map<std::string, absl::Time> Truncated(std::map<std::string, absl::Time> times) {
  for (auto& [method, t] : times) t = Truncated(t);
  return times;
}
absl::Time TruncatedToMillis(absl::Time t) { return absl::FromUnixMillis(absl::ToUnixMillis(t)); }

bool HeaderIsOurs(const std::string& header) {
  const nlohmann::json parsed = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return false;
  const auto alg = parsed.find("alg");
  const auto kid = parsed.find("kid");
  return alg != parsed.end() && kid != parsed.end() && *alg == "EdDSA" &&
         *kid == tally::fuzz::Signer().kid();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string header, payload;
  if (const size_t nul = input.find('\0'); nul != std::string_view::npos) {
    header = std::string(input.substr(0, nul));
    payload = std::string(input.substr(nul + 1));
  } else {
    header = absl::StrCat(R"({"alg":"EdDSA","kid":")", tally::fuzz::Signer().kid(),
                          R"(","typ":"JWT"})");
    payload = std::string(input);
  }
  const std::string signing_input =
      absl::StrCat(tally::Base64UrlEncode(header), ".", tally::Base64UrlEncode(payload));
  const absl::StatusOr<std::string> signature = tally::fuzz::FuzzKey().Sign(signing_input);
  if (!signature.ok()) Fail();
  const std::string token = absl::StrCat(signing_input, ".", tally::Base64UrlEncode(*signature));

  const tally::JwtVerifier& verifier = tally::fuzz::Verifier();
  const absl::StatusOr<tally::SessionClaims> claims = verifier.Verify(token);
  if (!claims.ok()) {
    if (claims.status().code() != absl::StatusCode::kUnauthenticated) Fail();
    return 0;
  }

  if (!HeaderIsOurs(header)) Fail();
  const absl::Time now = tally::fuzz::Frozen().Now();
  const absl::Duration leeway = tally::fuzz::Options().leeway;
  if (claims->issuer != tally::fuzz::kIssuer || claims->subject.empty() ||
      claims->directory_id.empty() || claims->session_id.empty() ||
      now >= claims->expires_at + leeway || claims->issued_at > now + leeway ||
      claims->auth_time > now + leeway) {
    Fail();
  }

  // Round trip. Sign writes whole seconds (iat also to the millisecond), so the claims come back
  // with their times truncated (which may only make an about-to-expire token expired), and those
  // normalized claims sign to exactly the same token again (Ed25519 is deterministic).
  const absl::StatusOr<std::string> again = tally::fuzz::Signer().Sign(*claims);
  if (!again.ok()) {
    if (absl::ToUnixSeconds(claims->expires_at) > absl::ToUnixSeconds(claims->issued_at)) Fail();
    return 0;
  }
  const absl::StatusOr<tally::SessionClaims> back = verifier.Verify(*again);
  if (!back.ok()) {
    if (now < Truncated(claims->expires_at) + leeway) Fail();
    return 0;
  }
  if (back->issuer != claims->issuer || back->subject != claims->subject ||
      back->directory_id != claims->directory_id || back->session_id != claims->session_id ||
      back->family_id != claims->family_id || back->acr != claims->acr ||
      back->amr != claims->amr || back->methods != claims->methods ||
      back->amr_times != Truncated(claims->amr_times) || back->roles != claims->roles ||
      back->expires_at != Truncated(claims->expires_at) ||
      back->issued_at != TruncatedToMillis(claims->issued_at) ||
      back->auth_time != Truncated(claims->auth_time)) {
    Fail();
  }
  const absl::StatusOr<std::string> third = tally::fuzz::Signer().Sign(*back);
  if (!third.ok() || *third != *again) Fail();
  return 0;
}
