#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

// One page of a store's list: the items and the cursor after the last one.
template <typename T>
struct Page {
  std::vector<T> items;
  int64_t next_cursor = 0;  // 0: no more items
};

// page_size as callers send it: 0 means the default, larger than the cap is capped, negative is
// INVALID_ARGUMENT.
absl::StatusOr<int> EffectivePageSize(int32_t requested);

// Opaque page tokens: a store cursor tagged with what it pages through, so a token of one list
// is refused by another.
std::string EncodePageToken(absl::string_view kind, int64_t cursor);
// "" → 0 (first page); anything malformed or of another kind → INVALID_ARGUMENT.
absl::StatusOr<int64_t> DecodePageToken(absl::string_view kind, absl::string_view token);

}  // namespace tally
