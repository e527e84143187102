#pragma once

// What every libFuzzer target of a request check asserts (header only: the fuzz tree,
// -DTALLY_FUZZ_ONLY=ON, builds no test library). A failed check traps, which libFuzzer reports
// with the input that caused it.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace tally::fuzz {

inline void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Text the fixed error messages can never contain, so finding it there means it was echoed.
inline bool Distinctive(const std::string& text) {
  if (text.size() < 8) return false;
  for (unsigned char c : text) {
    if (c >= 0x80 || absl::string_view("#$%&*/<=>?^`{|}~").find(c) != absl::string_view::npos) {
      return true;
    }
  }
  return false;
}

// A refusal is INVALID_ARGUMENT and never echoes the input (no secret reaches an error).
inline void CheckError(const absl::Status& status, const std::string& input) {
  Check(status.code() == absl::StatusCode::kInvalidArgument);
  if (Distinctive(input)) Check(!absl::StrContains(status.message(), input));
}

}  // namespace tally::fuzz
