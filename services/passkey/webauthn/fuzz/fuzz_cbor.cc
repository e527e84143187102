// libFuzzer: the strict CBOR layer (scan, libcbor load, map checks, accessors) and COSE keys.

#include <cstddef>
#include <cstdint>

#include "services/passkey/webauthn/cbor.h"
#include "services/passkey/webauthn/crypto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t consumed = 0;
  auto item = tally::webauthn::DecodeCborPrefix(input, &consumed);
  if (item.ok()) {
    if (consumed == 0 || consumed > size) __builtin_trap();
    // Walk the accessors over whatever came out.
    (void)tally::webauthn::CborMapGet(item->get(), 1);
    (void)tally::webauthn::CborMapGet(item->get(), "fmt");
    (void)tally::webauthn::ParseCoseKey(item->get());
  }
  (void)tally::webauthn::DecodeCbor(input);
  return 0;
}
