#include "common/util/random.h"

#include <openssl/rand.h>

#include <array>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

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
  std::array<uint8_t, 16> bytes;
  random.Fill(absl::MakeSpan(bytes));
  return absl::StrCat(absl::string_view(prefix.data(), prefix.size()),
                      absl::AsciiStrToLower(Base32Encode(
                          std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                           bytes.size()))));
}

}  // namespace tally
