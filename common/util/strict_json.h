#pragma once

// JSON for inputs a security decision rests on (session tokens, JWK Sets, WebAuthn responses):
// one reading for every parser, and bounded work.

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace tally {

// Deep enough for every document we read (a JWK Set nests 3 levels, WebAuthn client data 2).
inline constexpr int kMaxStrictJsonDepth = 16;

// Parses one JSON value (RFC 8259; text that is not UTF-8 is a syntax error), refusing an object
// that names a member twice at any depth (parsers disagree on which duplicate wins, so a
// document must not mean one thing to us and another to someone else) and nesting deeper than
// `max_depth`. INVALID_ARGUMENT "nested too deeply", "syntax error" or "duplicate object key";
// the message never quotes the input.
absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text,
                                               int max_depth = kMaxStrictJsonDepth);

}  // namespace tally
