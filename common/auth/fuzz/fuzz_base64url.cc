// libFuzzer: the base64url codec every token, JWK and WebAuthn field goes through.
//
// Invariants: encoding writes only the base64url alphabet, unpadded, and decodes back to the
// bytes for any input; decoding accepts only the alphabet (and '='), never yields more bytes
// than it read characters, and what it yields survives encode -> decode.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/util/text.h"

namespace {

[[noreturn]] void Fail() { __builtin_trap(); }

bool InAlphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const std::string encoded = tally::Base64UrlEncode(input);
  for (char c : encoded) {
    if (!InAlphabet(c)) Fail();
  }
  if (encoded.size() != (size * 4 + 2) / 3) Fail();  // unpadded length
  std::string decoded;
  if (!tally::Base64UrlDecode(encoded, &decoded) || decoded != input) Fail();

  std::string bytes;
  if (tally::Base64UrlDecode(input, &bytes)) {
    for (char c : input) {
      if (!InAlphabet(c) && c != '=') Fail();
    }
    // Decoding then encoding names the same bytes, whatever spelling came in.
    std::string round;
    if (!tally::Base64UrlDecode(tally::Base64UrlEncode(bytes), &round) || round != bytes) Fail();
    if (bytes.size() > input.size()) Fail();
  }
  return 0;
}
