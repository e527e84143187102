#include "services/credential/user_fields.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally::credential {
namespace {

constexpr size_t kMaxLocalPartBytes = 64;
constexpr size_t kMaxDomainBytes = 253;
constexpr size_t kMaxLabelBytes = 63;
constexpr int kMinPhoneDigits = 8;
constexpr int kMaxPhoneDigits = 15;
// In the order CheckRoles returns them.
constexpr std::array<std::string_view, 2> kRoles = {"admin", "user"};

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

absl::Status BadEmail(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("email is not a valid address: ",
                                                 absl::string_view(why.data(), why.size())));
}

absl::Status CheckLocalPart(std::string_view local) {
  if (local.empty()) return BadEmail("nothing before the @");
  if (local.size() > kMaxLocalPartBytes) {
    return BadEmail(absl::StrCat("the part before the @ is longer than ", kMaxLocalPartBytes,
                                 " bytes"));
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return BadEmail("dots may not start, end or repeat in the part before the @");
  }
  for (char c : local) {
    // Internationalised mailboxes (RFC 6531) need SMTPUTF8 all the way to the mailbox, which
    // the OTP service's delivery does not do: such an address could never receive a code.
    if (static_cast<unsigned char>(c) >= 0x80) {
      return BadEmail("the part before the @ must be ASCII (internationalised mailboxes cannot "
                      "receive codes)");
    }
    if (c == ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' || c == ';' ||
        c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return BadEmail("the part before the @ holds a space or a special character");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDomain(std::string_view domain) {
  if (domain.empty()) return BadEmail("nothing after the @");
  if (domain.size() > kMaxDomainBytes) return BadEmail("the domain is too long");
  int labels = 0;
  std::string_view last;
  size_t start = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelBytes) {
      return BadEmail("the domain has an empty or overlong label");
    }
    if (label.front() == '-' || label.back() == '-') {
      return BadEmail("a domain label starts or ends with a hyphen");
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return BadEmail(
            "the domain may hold only letters, digits, hyphens and dots (use the xn-- form for "
            "international domains)");
      }
    }
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return BadEmail("the domain needs a dot, as in example.com");
  if (std::all_of(last.begin(), last.end(),
                  [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return BadEmail("the domain ends in a number");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Username> CheckUsername(std::string_view raw) {
  const std::string_view name = TrimAscii(raw);
  if (name.empty()) return absl::InvalidArgumentError("username is required");
  if (name.size() > kMaxUsernameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("username must be at most ", kMaxUsernameBytes, " bytes"));
  }
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError("username must be valid UTF-8");
  if (HasControlCharacters(name)) {
    return absl::InvalidArgumentError("username must not contain control characters");
  }
  return Username{std::string(name), UsernameKey(name)};
}

std::string UsernameKey(std::string_view display) {
  return absl::AsciiStrToLower(absl::string_view(display.data(), display.size()));
}

absl::StatusOr<std::string> NormalizeEmail(std::string_view raw) {
  const std::string_view email = TrimAscii(raw);
  if (email.empty()) return std::string();
  if (email.size() > kMaxEmailBytes) {
    return BadEmail(absl::StrCat("longer than ", kMaxEmailBytes, " bytes"));
  }
  if (!IsValidUtf8(email) || HasControlCharacters(email)) {
    return BadEmail("not UTF-8 text without control characters");
  }
  const size_t at = email.find('@');
  if (at == std::string_view::npos) return BadEmail("no @");
  if (email.find('@', at + 1) != std::string_view::npos) return BadEmail("more than one @");
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (absl::Status s = CheckLocalPart(local); !s.ok()) return s;
  if (absl::Status s = CheckDomain(domain); !s.ok()) return s;
  return absl::StrCat(absl::string_view(local.data(), local.size()), "@",
                      absl::AsciiStrToLower(absl::string_view(domain.data(), domain.size())));
}

absl::StatusOr<std::string> NormalizePhoneNumber(std::string_view raw) {
  std::string phone;
  for (char c : TrimAscii(raw)) {
    if (c != ' ' && c != '-') phone.push_back(c);
  }
  if (phone.empty()) return phone;
  auto bad = [] {
    return absl::InvalidArgumentError(absl::StrCat(
        "phone_number must be in E.164 form: '+', the country code and number, ", kMinPhoneDigits,
        " to ", kMaxPhoneDigits, " digits in all (e.g. +31612345678)"));
  };
  if (phone.size() < 2 || phone[0] != '+' || phone[1] == '0') return bad();
  const int digits = static_cast<int>(phone.size()) - 1;
  if (digits < kMinPhoneDigits || digits > kMaxPhoneDigits) return bad();
  for (size_t i = 1; i < phone.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(phone[i]))) return bad();
  }
  return phone;
}

absl::StatusOr<std::vector<std::string>> CheckRoles(
    const google::protobuf::RepeatedPtrField<std::string>& roles) {
  std::array<bool, kRoles.size()> wanted{};
  for (const std::string& role : roles) {
    const auto it = std::find(kRoles.begin(), kRoles.end(), role);
    if (it == kRoles.end()) {
      // Roles are a closed set of short names, so naming the offender is safe and helpful, as
      // long as it is printable and short.
      if (role.size() <= 32 && IsValidUtf8(role) && !HasControlCharacters(role)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown role \"", role, "\"; roles are \"admin\" and \"user\""));
      }
      return absl::InvalidArgumentError("unknown role; roles are \"admin\" and \"user\"");
    }
    wanted[it - kRoles.begin()] = true;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < kRoles.size(); ++i) {
    if (wanted[i]) out.emplace_back(kRoles[i]);
  }
  return out;
}

}  // namespace tally::credential
