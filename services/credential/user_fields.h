#pragma once

// Normalisation and validation of what a user record holds: usernames, e-mail addresses, phone
// numbers and roles. Pure functions; every error is INVALID_ARGUMENT with a message that names
// the field and echoes no input but an unknown role name.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/util/username.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace tally::credential {

// Usernames follow the one rule of common/util/username.h (the orchestrator's lockout keys
// unknown usernames with it too).
using ::tally::CheckUsername;
using ::tally::kMaxUsernameBytes;
using ::tally::Username;
using ::tally::UsernameKey;

// An e-mail address: "" (none), or an address by the contact rules (common/util/contact.h,
// NormalizeEmailAddress: trimmed, the domain lower-cased, one the OTP service can send to).
// The error says "email is not a valid address: <reason>".
absl::StatusOr<std::string> NormalizeEmail(std::string_view raw);

// A phone number: "" (none), or E.164 after removing spaces and dashes (NormalizeE164):
// "+31 6-1234 5678" becomes "+31612345678".
absl::StatusOr<std::string> NormalizePhoneNumber(std::string_view raw);

// Roles as given: each must be "admin" or "user" (exactly, lower-case). Duplicates are dropped
// and the result is in a fixed order (admin first).
absl::StatusOr<std::vector<std::string>> CheckRoles(
    const google::protobuf::RepeatedPtrField<std::string>& roles);

}  // namespace tally::credential
