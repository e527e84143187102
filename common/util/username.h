#pragma once

// The username rule of Tally, in one place: what a username is and which spellings are one
// user. The credential service keys its users with it; the orchestrator keys the lockout of an
// unknown username with it, so "bob" and "bob " share one lock as they share one user (a
// difference would tell whether "bob" exists). Pure functions; no message quotes the input.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tally {

inline constexpr size_t kMaxUsernameBytes = 128;

struct Username {
  std::string display;  // as typed, without surrounding ASCII whitespace
  std::string key;      // what uniqueness and look-ups compare: see UsernameKey
};

// A username as typed: surrounding ASCII whitespace is dropped; then it must be 1 to
// kMaxUsernameBytes bytes of valid UTF-8 without control characters.
absl::StatusOr<Username> CheckUsername(std::string_view raw);

// The case-insensitive form of a checked username: ASCII letters lower-cased, every other byte
// kept. So "Alice" and "ALICE" are one username, while "Émile" and "émile" (non-ASCII case) or
// precomposed and decomposed accents are not folded together: full Unicode case folding and
// normalisation need ICU, which Tally does not use.
std::string UsernameKey(std::string_view display);

}  // namespace tally
