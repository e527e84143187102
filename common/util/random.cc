#include "common/util/random.h"

#include <openssl/rand.h>

#include <array>
#include <cstdlib>

namespace tally {

void CsprngRandom::Fill(absl::Span<uint8_t> out) {
  // RAND_bytes only fails when the OS entropy source is broken; continuing would hand out
  // predictable ids and codes, so stop the process instead.
  if (!out.empty() && RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
}

RandomSource& CsprngRandom::Get() {
  static CsprngRandom random;
  return random;
}

std::string NewId(RandomSource& random, std::string_view prefix) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::array<uint8_t, 16> bytes;
  random.Fill(absl::MakeSpan(bytes));
  std::string id(prefix);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      id.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) id.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return id;
}

}  // namespace tally
