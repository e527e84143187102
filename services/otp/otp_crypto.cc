#include "services/otp/otp_crypto.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace tally::otp {

std::string GenerateCode(RandomSource& random) {
  // 4294 * 10^6 is the largest multiple of 10^6 that fits in 32 bits.
  constexpr uint32_t kLimit = 4294000000u;
  uint32_t value = 0;
  do {
    std::array<uint8_t, 4> bytes;
    random.Fill(absl::MakeSpan(bytes));
    value = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
            uint32_t{bytes[3]};
  } while (value >= kLimit);
  return absl::StrFormat("%06u", value % 1000000u);
}

}  // namespace tally::otp
