#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

// The whole content of the file at `path`, as bytes. NOT_FOUND "cannot read <path>: <reason>"
// when it cannot be opened or read (the reason is the system's, e.g. "No such file or
// directory"; the content never appears in a message). A caller that reads a secret scrubs the
// returned copy when done with it (OPENSSL_cleanse).
absl::StatusOr<std::string> ReadFile(absl::string_view path);

}  // namespace tally
