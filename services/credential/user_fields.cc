#include "services/credential/user_fields.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/contact.h"
#include "common/util/text.h"

namespace tally::credential {
namespace {

// In the order CheckRoles returns them.
constexpr std::array<std::string_view, 2> kRoles = {"admin", "user"};

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<std::string> NormalizeEmail(std::string_view raw) {
  absl::StatusOr<std::string> email = NormalizeEmailAddress(Sv(raw));
  if (!email.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("email is not a valid address: ", email.status().message()));
  }
  return email;
}

absl::StatusOr<std::string> NormalizePhoneNumber(std::string_view raw) {
  std::optional<std::string> phone = NormalizeE164(Sv(raw));
  if (!phone.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "phone_number must be in E.164 form: '+', the country code and number, ", kMinE164Digits,
        " to ", kMaxE164Digits, " digits in all (e.g. +31612345678)"));
  }
  return *std::move(phone);
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
