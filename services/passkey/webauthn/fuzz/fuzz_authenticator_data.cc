// libFuzzer: authenticator data (flags, attested credential data, extensions, trailing bytes).

#include <cstddef>
#include <cstdint>

#include "services/passkey/webauthn/crypto.h"
#include "services/passkey/webauthn/webauthn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = tally::webauthn::ParseAuthenticatorData(input);
  if (parsed.ok()) {
    if (parsed->rp_id_hash.size() != 32) __builtin_trap();
    if ((parsed->flags & tally::webauthn::kFlagAT) != 0) {
      if (parsed->credential_id.empty() ||
          parsed->credential_id.size() > tally::webauthn::kMaxCredentialIdBytes) {
        __builtin_trap();
      }
      (void)tally::webauthn::ParseCoseKey(parsed->credential_public_key);
    }
  }
  return 0;
}
