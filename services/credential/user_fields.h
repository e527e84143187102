#pragma once

// Normalisation and validation of what a user record holds: usernames, e-mail addresses, phone
// numbers and roles. Pure functions; every error is INVALID_ARGUMENT with a message that names
// the field and echoes no input but an unknown role name.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace tally::credential {

inline constexpr size_t kMaxUsernameBytes = 128;
inline constexpr size_t kMaxEmailBytes = 254;  // RFC 5321 path limit less the angle brackets

struct Username {
  std::string display;  // as typed, without surrounding ASCII whitespace
  std::string key;      // what uniqueness and look-ups compare: see UsernameKey
};

// A username as typed: surrounding ASCII whitespace is dropped; then it must be 1 to
// kMaxUsernameBytes bytes of valid UTF-8 without control characters.
absl::StatusOr<Username> CheckUsername(std::string_view raw);

// The case-insensitive form of a checked username: ASCII letters lower-cased, every other byte
// kept. So "Alice" and "ALICE" are one username, while "Émile" and "émile" (non-ASCII case) or
// precomposed and decomposed accents are not folded together: full Unicode case folding and
// normalisation need ICU, which Tally does not use.
std::string UsernameKey(std::string_view display);

// An e-mail address: "" (none), or local@domain after trimming surrounding ASCII whitespace:
// at most kMaxEmailBytes bytes; a local part of 1..64 printable ASCII characters (what the OTP
// service can deliver to) without spaces, quotes, brackets, commas, semicolons, colons or
// backslashes, and
// without leading, trailing or doubled dots; a domain of at least two dot-separated labels of
// ASCII letters, digits and inner hyphens (1..63 bytes each, internationalised domains in their
// xn-- form), whose last label is not all digits. The domain is lower-cased; the local part is
// kept as typed (mailbox names may be case-sensitive).
absl::StatusOr<std::string> NormalizeEmail(std::string_view raw);

// A phone number: "" (none), or E.164 after removing spaces and dashes: '+', a first digit 1-9,
// then more digits, 8 to 15 digits in all. "+31 6-1234 5678" becomes "+31612345678".
absl::StatusOr<std::string> NormalizePhoneNumber(std::string_view raw);

// Roles as given: each must be "admin" or "user" (exactly, lower-case). Duplicates are dropped
// and the result is in a fixed order (admin first).
absl::StatusOr<std::vector<std::string>> CheckRoles(
    const google::protobuf::RepeatedPtrField<std::string>& roles);

}  // namespace tally::credential
