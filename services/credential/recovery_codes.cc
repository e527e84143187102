#include "services/credential/recovery_codes.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/crypto.h"

namespace tally::credential {
namespace {

// Groups of the shown form: 5, 5 and 3 characters.
constexpr int kGroupEnds[] = {5, 10};

// A length-prefixed field, so ("ab", "c") and ("a", "bc") MAC differently.
std::string Field(absl::string_view value) { return absl::StrCat(value.size(), ":", value, ";"); }

}  // namespace

std::string GenerateRecoveryCode(RandomSource& random) {
  constexpr int kAlphabetSize = static_cast<int>(kRecoveryCodeAlphabet.size());
  // The largest multiple of the alphabet's size that fits in a byte.
  constexpr int kLimit = 256 / kAlphabetSize * kAlphabetSize;
  std::string code;
  int drawn = 0;
  while (drawn < kRecoveryCodeLength) {
    uint8_t byte = 0;
    random.Fill(absl::MakeSpan(&byte, 1));
    if (byte >= kLimit) continue;
    for (int end : kGroupEnds) {
      if (drawn == end) code.push_back('-');
    }
    code.push_back(kRecoveryCodeAlphabet[byte % kAlphabetSize]);
    ++drawn;
  }
  return code;
}

std::optional<std::string> NormalizeRecoveryCode(absl::string_view typed) {
  std::string code;
  for (char c : typed) {
    if (c == ' ' || c == '-') continue;
    const char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
    if (kRecoveryCodeAlphabet.find(lower) == absl::string_view::npos) return std::nullopt;
    code.push_back(lower);
    if (code.size() > static_cast<size_t>(kRecoveryCodeLength)) return std::nullopt;
  }
  if (code.size() != static_cast<size_t>(kRecoveryCodeLength)) return std::nullopt;
  return code;
}

std::string RecoveryCodeMac(absl::string_view key, absl::string_view directory_id,
                            absl::string_view user_id, absl::string_view normalized_code) {
  return HexEncode(HmacSha256(key, absl::StrCat("tally-recovery-code-v1;", Field(directory_id),
                                                Field(user_id), Field(normalized_code))));
}

}  // namespace tally::credential
