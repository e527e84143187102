#pragma once

// The request-shape checks of the policy service that are not about points: pure functions, so
// they are unit-tested through PolicyManager and fuzzed directly (services/policy/fuzz).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::policy {

inline constexpr size_t kMaxDisplayNameBytes = 200;
inline constexpr size_t kMaxEtagBytes = 128;

// A directory's display name as given: surrounding ASCII whitespace is dropped; then it must be
// 1 to kMaxDisplayNameBytes bytes of valid UTF-8 without control characters. INVALID_ARGUMENT
// otherwise, never quoting the input.
absl::StatusOr<std::string> CheckDisplayName(absl::string_view raw);

// An etag a client sends back: anything we could have issued, i.e. at most kMaxEtagBytes of
// valid UTF-8 ("" means overwrite). INVALID_ARGUMENT otherwise, never quoting it; a
// well-formed but stale etag is the store's ABORTED, not this check's.
absl::Status CheckEtag(absl::string_view etag);

}  // namespace tally::policy
