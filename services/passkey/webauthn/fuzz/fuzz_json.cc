// libFuzzer: the JSON inputs. The first byte picks the target: the strict JSON parser, a
// registration response, an authentication response, or a clientDataJSON inside an otherwise
// valid assertion (so the client data checks see every input).

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/util/strict_json.h"
#include "services/passkey/webauthn/crypto.h"
#include "services/passkey/webauthn/webauthn.h"

namespace {

// A fixed Ed25519 COSE key (x = 32 bytes of 0x11): assertions never verify against it, which
// is fine: the checks before the signature are what is fuzzed.
std::string StoredKey() {
  std::string key = "\xa4\x01\x01\x03\x27\x20\x06\x21\x58\x20";
  key += std::string(32, '\x11');
  return key;
}

tally::webauthn::RelyingParty Rp() {
  tally::webauthn::RelyingParty rp;
  rp.rp_id = "example.com";
  rp.origins = {"https://example.com"};
  rp.allow_cross_origin = true;
  rp.top_origins = {"https://top.example.com"};
  return rp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      (void)tally::ParseStrictJson(input);
      break;
    case 1: {
      tally::webauthn::RegistrationExpectation expect;
      expect.rp = Rp();
      expect.challenge = "fuzz-challenge";
      (void)tally::webauthn::VerifyRegistration(input, expect);
      break;
    }
    case 2: {
      auto response = tally::webauthn::ParseAssertionResponse(input);
      if (response.ok()) {
        tally::webauthn::AuthenticationExpectation expect{Rp(), "fuzz-challenge"};
        (void)tally::webauthn::VerifyAssertion(*response, expect, {StoredKey(), 7, false});
      }
      break;
    }
    case 3: {
      tally::webauthn::AssertionResponse response;
      response.credential_id = "id";
      response.client_data_json = input;
      response.authenticator_data =
          absl::StrCat(tally::webauthn::Sha256("example.com"), "\x05", std::string(4, '\x01'));
      response.signature = std::string(64, '\x01');
      tally::webauthn::AuthenticationExpectation expect{Rp(), "fuzz-challenge"};
      auto result = tally::webauthn::VerifyAssertion(response, expect, {StoredKey(), 0, false});
      if (result.ok()) __builtin_trap();  // the signature can never verify
      break;
    }
  }
  return 0;
}
