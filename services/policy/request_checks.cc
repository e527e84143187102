#include "services/policy/request_checks.h"

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally::policy {

absl::StatusOr<std::string> CheckDisplayName(absl::string_view raw) {
  const absl::string_view name = absl::StripAsciiWhitespace(raw);
  if (name.empty()) return absl::InvalidArgumentError("display_name is required");
  if (name.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("display_name must be at most ", kMaxDisplayNameBytes, " bytes"));
  }
  const std::string_view view(name.data(), name.size());
  if (!IsValidUtf8(view)) return absl::InvalidArgumentError("display_name must be valid UTF-8");
  if (HasControlCharacters(view)) {
    return absl::InvalidArgumentError("display_name must not contain control characters");
  }
  return std::string(name);
}

absl::Status CheckEtag(absl::string_view etag) {
  if (etag.size() > kMaxEtagBytes || !IsValidUtf8(std::string_view(etag.data(), etag.size()))) {
    return absl::InvalidArgumentError("etag is not one this service issued");
  }
  return absl::OkStatus();
}

}  // namespace tally::policy
