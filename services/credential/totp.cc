#include "services/credential/totp.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/util/text.h"

namespace tally::credential {

std::string Hotp(HashAlgorithm algorithm, absl::string_view key, uint64_t counter, int digits) {
  char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  const std::string mac = Hmac(algorithm, key, absl::string_view(message, sizeof(message)));
  const auto byte = [&mac](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(mac[i]));
  };
  const size_t offset = byte(mac.size() - 1) & 0x0f;
  const uint32_t binary = ((byte(offset) & 0x7f) << 24) | (byte(offset + 1) << 16) |
                          (byte(offset + 2) << 8) | byte(offset + 3);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  return absl::StrFormat("%0*u", digits, binary % modulus);
}

int64_t TimeStep(absl::Time time, absl::Duration period) {
  // Whole seconds (ToUnixSeconds rounds down), divided rounding down: apps count alike.
  const int64_t seconds = absl::ToUnixSeconds(time);
  const int64_t x = absl::ToInt64Seconds(period);
  return seconds >= 0 ? seconds / x : -((-seconds + x - 1) / x);
}

std::string Totp(const TotpParams& params, absl::string_view key, absl::Time time) {
  return Hotp(params.algorithm, key, static_cast<uint64_t>(TimeStep(time, params.period)),
              params.digits);
}

std::optional<int64_t> MatchTotp(const TotpParams& params, absl::string_view key,
                                 absl::string_view code, absl::Time now) {
  const int64_t current = TimeStep(now, params.period);
  std::optional<int64_t> matched;
  for (int64_t step = current - params.window; step <= current + params.window; ++step) {
    if (step < 0) continue;
    const std::string expected =
        Hotp(params.algorithm, key, static_cast<uint64_t>(step), params.digits);
    // No early exit: every candidate costs the same whatever matches.
    if (ConstantTimeEquals(expected, std::string_view(code.data(), code.size()))) matched = step;
  }
  return matched;
}

absl::string_view AlgorithmName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return "SHA1";
    case HashAlgorithm::kSha256:
      return "SHA256";
    case HashAlgorithm::kSha512:
      return "SHA512";
  }
  return "SHA1";
}

namespace {

std::string PercentEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

}  // namespace

std::string OtpauthUri(absl::string_view issuer, absl::string_view account,
                       absl::string_view secret, const TotpParams& params) {
  const std::string encoded_issuer = PercentEncode(issuer);
  return absl::StrCat("otpauth://totp/", encoded_issuer, ":", PercentEncode(account),
                      "?secret=", Base32Encode(std::string_view(secret.data(), secret.size())),
                      "&issuer=", encoded_issuer, "&algorithm=", AlgorithmName(params.algorithm),
                      "&digits=", params.digits, "&period=", absl::ToInt64Seconds(params.period));
}

}  // namespace tally::credential
