#pragma once

// Recovery codes (DESIGN.md §6): single-use codes a user keeps on paper for when the other
// factors are lost. Readable: 13 characters from an alphabet without look-alikes, grouped
// xxxxx-xxxxx-xxx; 13 × log2(31) ≈ 64.4 bits each, far beyond guessing within the per-user
// attempt budget. Stored only as HMAC-SHA-256 under a service key with the user bound in, so a
// copy of the table is useless without the key and a row cannot be moved to another user.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/util/random.h"

namespace tally::credential {

// Codes per set.
inline constexpr int kRecoveryCodesPerSet = 10;
// Characters per code, without the dashes.
inline constexpr int kRecoveryCodeLength = 13;
// Digits and lower-case letters without 0/o, 1/l/i: 31 characters nobody misreads.
inline constexpr absl::string_view kRecoveryCodeAlphabet = "23456789abcdefghjkmnpqrstuvwxyz";

// A new code, uniformly drawn (rejection sampling: no modulo bias), as shown: "xxxxx-xxxxx-xxx".
std::string GenerateRecoveryCode(RandomSource& random);

// What a user typed, as stored codes are computed: lower-cased, spaces and dashes removed.
// nullopt when the result cannot be a code (wrong length, a character outside the alphabet).
std::optional<std::string> NormalizeRecoveryCode(absl::string_view typed);

// The stored form of a normalised code: hex HMAC-SHA-256 under `key` over the directory, the
// user and the code, each length-prefixed.
std::string RecoveryCodeMac(absl::string_view key, absl::string_view directory_id,
                            absl::string_view user_id, absl::string_view normalized_code);

}  // namespace tally::credential
