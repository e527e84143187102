#include "common/util/username.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/util/text.h"

namespace tally {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<Username> CheckUsername(std::string_view raw) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(Sv(raw));
  const std::string_view name(stripped.data(), stripped.size());
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

std::string UsernameKey(std::string_view display) { return absl::AsciiStrToLower(Sv(display)); }

}  // namespace tally
