#include "common/util/contact.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally {
namespace {

constexpr size_t kMaxDomainBytes = 253;
constexpr size_t kMaxLabelBytes = 63;

// ITU-T E.164 country codes in use (the ITU's list of assigned codes, geographic areas and
// global services), sorted. One-digit codes: 1 (NANP) and 7. Spare codes are left out, so
// they are not mistaken for a country: 210, 214, 215, 217, 219, 259, 28x, 292-296, 384, 422,
// 424-429, 671, 684, 693-699, 801-807, 809, 83x, 851, 854, 857-859, 871-877, 879, 884, 885,
// 887, 889, 89x, 969, 978, 990, 997, 999, and the withdrawn shared codes 388 and 991.
constexpr std::array<int, 2> kOneDigitCodes = {1, 7};
constexpr std::array<int, 44> kTwoDigitCodes = {
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98};
constexpr int kThreeDigitCodes[] = {
    211, 212, 213, 216, 218,                                    // North Africa
    220, 221, 222, 223, 224, 225, 226, 227, 228, 229,           // West Africa
    230, 231, 232, 233, 234, 235, 236, 237, 238, 239,           //
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249,           // Central and East Africa
    250, 251, 252, 253, 254, 255, 256, 257, 258,                //
    260, 261, 262, 263, 264, 265, 266, 267, 268, 269,           // Southern Africa
    290, 291, 297, 298, 299,                                    // St Helena ... Greenland
    350, 351, 352, 353, 354, 355, 356, 357, 358, 359,           // Europe
    370, 371, 372, 373, 374, 375, 376, 377, 378, 379,           //
    380, 381, 382, 383, 385, 386, 387, 389,                     //
    420, 421, 423,                                              //
    500, 501, 502, 503, 504, 505, 506, 507, 508, 509,           // Central America
    590, 591, 592, 593, 594, 595, 596, 597, 598, 599,           // South America, Caribbean
    670, 672, 673, 674, 675, 676, 677, 678, 679,                // Oceania
    680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, //
    800, 808,                                                   // international freephone, ISCS
    850, 852, 853, 855, 856,                                    // East Asia
    870, 878, 880, 881, 882, 883, 886, 888,                     // Inmarsat, UPT, BD, GMSS, ...
    960, 961, 962, 963, 964, 965, 966, 967, 968,                // Middle East
    970, 971, 972, 973, 974, 975, 976, 977, 979,                // ... and international premium
    992, 993, 994, 995, 996, 998,                               // Central Asia
};

template <typename Codes>
bool Listed(const Codes& codes, int code) {
  return std::binary_search(std::begin(codes), std::end(codes), code);
}

bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }

absl::Status CheckLocalPart(absl::string_view local) {
  if (local.empty()) return absl::InvalidArgumentError("nothing before the @");
  if (local.size() > kMaxEmailLocalPartBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the part before the @ is longer than ", kMaxEmailLocalPartBytes, " bytes"));
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != absl::string_view::npos) {
    return absl::InvalidArgumentError("dots may not start, end or repeat in the part before the @");
  }
  for (char c : local) {
    // Internationalised mailboxes (RFC 6531) need SMTPUTF8 all the way to the mailbox, which
    // the OTP service's delivery does not do: such an address could never receive a code.
    if (static_cast<unsigned char>(c) >= 0x80) {
      return absl::InvalidArgumentError(
          "the part before the @ must be ASCII (internationalised mailboxes cannot receive "
          "codes)");
    }
    if (c == ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' || c == ';' ||
        c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return absl::InvalidArgumentError(
          "the part before the @ holds a space or a special character");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDomain(absl::string_view domain) {
  if (domain.empty()) return absl::InvalidArgumentError("nothing after the @");
  if (domain.size() > kMaxDomainBytes) return absl::InvalidArgumentError("the domain is too long");
  int labels = 0;
  absl::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    const absl::string_view label = domain.substr(
        start, dot == absl::string_view::npos ? absl::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelBytes) {
      return absl::InvalidArgumentError("the domain has an empty or overlong label");
    }
    if (label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError("a domain label starts or ends with a hyphen");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return absl::InvalidArgumentError(
            "the domain may hold only letters, digits, hyphens and dots (use the xn-- form for "
            "international domains)");
      }
    }
    ++labels;
    last = label;
    if (dot == absl::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return absl::InvalidArgumentError("the domain needs a dot, as in example.com");
  // A top-level domain is never all digits (that would be an IP address).
  if (std::all_of(last.begin(), last.end(), IsDigit)) {
    return absl::InvalidArgumentError("the domain ends in a number");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEmailAddress(absl::string_view email) {
  if (email.size() > kMaxEmailBytes) {
    return absl::InvalidArgumentError(absl::StrCat("longer than ", kMaxEmailBytes, " bytes"));
  }
  const std::string_view text(email.data(), email.size());
  if (!IsValidUtf8(text) || HasControlCharacters(text)) {
    return absl::InvalidArgumentError("not UTF-8 text without control characters");
  }
  const size_t at = email.find('@');
  if (at == absl::string_view::npos) return absl::InvalidArgumentError("no @");
  if (email.find('@', at + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError("more than one @");
  }
  if (absl::Status s = CheckLocalPart(email.substr(0, at)); !s.ok()) return s;
  return CheckDomain(email.substr(at + 1));
}

absl::StatusOr<std::string> NormalizeEmailAddress(absl::string_view raw) {
  const absl::string_view email = absl::StripAsciiWhitespace(raw);
  if (email.empty()) return std::string();
  if (absl::Status s = CheckEmailAddress(email); !s.ok()) return s;
  const size_t at = email.find('@');
  return absl::StrCat(email.substr(0, at + 1), absl::AsciiStrToLower(email.substr(at + 1)));
}

bool IsE164(absl::string_view number) {
  const int digits = static_cast<int>(number.size()) - 1;
  return digits >= kMinE164Digits && digits <= kMaxE164Digits && number[0] == '+' &&
         number[1] != '0' && std::all_of(number.begin() + 1, number.end(), IsDigit);
}

std::optional<std::string> NormalizeE164(absl::string_view raw) {
  std::string number;
  for (char c : absl::StripAsciiWhitespace(raw)) {
    if (c != ' ' && c != '-') number.push_back(c);
  }
  if (number.empty() || IsE164(number)) return number;
  return std::nullopt;
}

bool IsCountryCallingCode(int code) {
  if (code < 1) return false;
  if (code < 10) return Listed(kOneDigitCodes, code);
  if (code < 100) return Listed(kTwoDigitCodes, code);
  if (code < 1000) return Listed(kThreeDigitCodes, code);
  return false;
}

std::optional<int> CountryCallingCode(absl::string_view e164) {
  if (!IsE164(e164)) return std::nullopt;
  // Country codes form a prefix code: the first of one, two or three digits that is a code.
  int code = 0;
  for (size_t length = 1; length <= 3; ++length) {
    code = code * 10 + (e164[length] - '0');
    if (IsCountryCallingCode(code)) return code;
  }
  return std::nullopt;
}

bool SmsCountryAllowed(const std::vector<std::string>& allowed_codes, absl::string_view e164) {
  if (allowed_codes.empty()) return true;
  const std::optional<int> code = CountryCallingCode(e164);
  if (!code.has_value()) return false;
  const std::string digits = absl::StrCat(*code);
  return std::find(allowed_codes.begin(), allowed_codes.end(), digits) != allowed_codes.end();
}

}  // namespace tally
