#include "services/credential/password_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/util/file.h"
#include "common/util/text.h"
#include "services/credential/user_fields.h"

namespace tally::credential {
namespace {

std::string Lower(std::string_view s) {
  return absl::AsciiStrToLower(absl::string_view(s.data(), s.size()));
}

// Code points in valid UTF-8: every byte that does not continue a sequence starts one.
int CodePoints(std::string_view utf8) {
  int n = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

absl::StatusOr<PasswordBlocklist> PasswordBlocklist::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return FromLines(*text);
}

PasswordBlocklist PasswordBlocklist::FromLines(std::string_view text) {
  PasswordBlocklist list;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    list.entries_.insert(absl::AsciiStrToLower(line));
  }
  return list;
}

bool PasswordBlocklist::Contains(std::string_view password) const {
  return !entries_.empty() && entries_.contains(Lower(password));
}

absl::Status CheckPasswordShape(std::string_view password, std::string_view field) {
  const absl::string_view name(field.data(), field.size());
  if (password.empty()) return absl::InvalidArgumentError(absl::StrCat(name, " is required"));
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be at most ", kMaxPasswordBytes, " bytes"));
  }
  if (!IsValidUtf8(password)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be valid UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status PasswordPolicy::Check(std::string_view password, std::string_view username) const {
  if (CodePoints(password) < rules_.min_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("password must be at least ", rules_.min_length, " characters"));
  }
  if (UsernameKey(password) == UsernameKey(username)) {
    return absl::InvalidArgumentError("password must not be the username");
  }
  if (blocklist_.Contains(password)) {
    return absl::InvalidArgumentError(
        "password is too common (it is on the list of passwords attackers try first)");
  }
  return absl::OkStatus();
}

}  // namespace tally::credential
