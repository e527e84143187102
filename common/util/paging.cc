#include "common/util/paging.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally {

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

std::string EncodePageToken(absl::string_view kind, int64_t cursor) {
  const std::string plain = absl::StrCat(kind, ":", cursor);
  return Base64UrlEncode(std::string_view(plain));
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view kind, absl::string_view token) {
  if (token.empty()) return 0;
  std::string plain;
  int64_t cursor = 0;
  const std::string prefix = absl::StrCat(kind, ":");
  if (token.size() > 64 || !Base64UrlDecode(std::string_view(token.data(), token.size()), &plain) ||
      plain.rfind(prefix, 0) != 0 ||
      !absl::SimpleAtoi(absl::string_view(plain).substr(prefix.size()), &cursor) || cursor <= 0) {
    return absl::InvalidArgumentError("page_token is not a token this list returned");
  }
  return cursor;
}

}  // namespace tally
