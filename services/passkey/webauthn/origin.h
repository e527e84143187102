#pragma once

// Configured origins in the form browsers write into clientDataJSON, so that an operator's
// spelling of one ("https://Example.com/", "https://example.com:443") matches it exactly.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::webauthn {

// The serialisation of the origin `origin` names (HTML: "scheme://host[:port]"): scheme and host
// lower-cased, the scheme's default port (https 443, http 80) dropped, one trailing "/" removed.
// An Android app's origin ("android:apk-key-hash:<base64url>") is taken as written.
// INVALID_ARGUMENT for anything that is not an origin: another scheme, a path, query, fragment
// or user info, a host that is not ASCII (write it as "xn--..."), a port outside 1-65535.
// Only for configuration: the browser's origin is compared exactly, never normalised.
absl::StatusOr<std::string> NormalizeOrigin(absl::string_view origin);

// Every origin of a list normalised, duplicates dropped (first one kept).
absl::StatusOr<std::vector<std::string>> NormalizeOrigins(const std::vector<std::string>& origins);

}  // namespace tally::webauthn
