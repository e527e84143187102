// libFuzzer: attestation objects (fmt, attStmt, authData, COSE key, none/packed/fido-u2f) behind
// a client data that passes, so every input reaches the CBOR and attestation code.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "services/passkey/webauthn/webauthn.h"

namespace {

const std::string& ClientData() {
  static const std::string* const json = new std::string(absl::StrCat(
      R"({"type":"webauthn.create","challenge":")", tally::Base64UrlEncode("fuzz-challenge"),
      R"(","origin":"https://example.com"})"));
  return *json;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string object(reinterpret_cast<const char*>(data), size);
  // rawId is the credential id the authenticator data should carry; any id will do for
  // exercising the parsers.
  const std::string response = absl::StrCat(
      R"({"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":")",
      tally::Base64UrlEncode(ClientData()), R"(","attestationObject":")",
      tally::Base64UrlEncode(object), R"("}})");
  tally::webauthn::RegistrationExpectation expect;
  expect.rp.rp_id = "example.com";
  expect.rp.origins = {"https://example.com"};
  expect.challenge = "fuzz-challenge";
  auto result = tally::webauthn::VerifyRegistration(response, expect);
  if (result.ok() && result->credential_id != std::string("\0\0\0", 3)) __builtin_trap();
  return 0;
}
