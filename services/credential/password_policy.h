#pragma once

// What a new password must be (NIST SP 800-63B §5.1.1.2, OWASP Authentication Cheat Sheet): long
// enough, not absurdly long, UTF-8, not the username and not a commonly used password. No
// composition rules (no "one digit and one symbol"), no expiry.

#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tally::credential {

// Longer passwords are refused before any hashing, so nobody can make us hash megabytes.
inline constexpr size_t kMaxPasswordBytes = 1024;

// Passwords too common to accept, compared case-insensitively (ASCII).
class PasswordBlocklist {
 public:
  PasswordBlocklist() = default;  // empty: blocks nothing

  // One password per line; surrounding whitespace is ignored, as are empty lines and lines that
  // start with '#'. NOT_FOUND when the file cannot be read.
  static absl::StatusOr<PasswordBlocklist> LoadFile(const std::string& path);
  static PasswordBlocklist FromLines(std::string_view text);

  bool Contains(std::string_view password) const;
  size_t size() const { return entries_.size(); }

 private:
  absl::flat_hash_set<std::string> entries_;  // lower-cased
};

struct PasswordRules {
  // Counted in Unicode code points, as NIST counts characters.
  int min_length = 8;
};

class PasswordPolicy {
 public:
  PasswordPolicy(PasswordRules rules, PasswordBlocklist blocklist)
      : rules_(rules), blocklist_(std::move(blocklist)) {}

  // For a `password` that passed CheckPasswordShape: OK when it may become the password of
  // `username`; otherwise INVALID_ARGUMENT saying which rule it breaks (never quoting it).
  absl::Status Check(std::string_view password, std::string_view username) const;

  const PasswordRules& rules() const { return rules_; }

 private:
  PasswordRules rules_;
  PasswordBlocklist blocklist_;
};

// What any password presented to the service must be, new or not: present, at most
// kMaxPasswordBytes bytes, UTF-8. `field` names it in the error ("password", "new_password").
absl::Status CheckPasswordShape(std::string_view password, std::string_view field);

}  // namespace tally::credential
