#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/util/random.h"

namespace tally::otp {

// Length of an OTP code: 6 decimal digits (DESIGN.md §6).
inline constexpr int kCodeDigits = 6;

// A uniformly distributed 6-digit code from `random`: 32-bit draws at or above the largest
// multiple of 10^6 are rejected, so there is no modulo bias.
std::string GenerateCode(RandomSource& random);

// A secret from configuration: hex (an even number of hex digits, at least 64) or base64
// (standard or URL-safe alphabet, padding optional). INVALID_ARGUMENT when it is neither or
// decodes to fewer than `min_bytes` (or, with exact, not exactly `min_bytes`). The message
// never repeats the secret.
absl::StatusOr<std::string> DecodeSecret(absl::string_view text, size_t min_bytes, bool exact,
                                         absl::string_view name);

// HMAC-SHA256 (OpenSSL EVP), 32 raw bytes.
std::string HmacSha256(absl::string_view key, absl::string_view data);

// Lower-case hex of bytes.
std::string HexEncode(absl::string_view bytes);

// AES-256-GCM with a fresh random 12-byte nonce: nonce ‖ ciphertext ‖ 16-byte tag. `aad` is
// authenticated but not encrypted (binds a delivery job to its challenge).
std::string SealAesGcm(absl::string_view key, absl::string_view plaintext, absl::string_view aad,
                       RandomSource& random);
// The inverse; DATA_LOSS when the input is truncated, the tag does not verify (wrong key,
// tampered ciphertext or a different aad).
absl::StatusOr<std::string> OpenAesGcm(absl::string_view key, absl::string_view sealed,
                                       absl::string_view aad);

}  // namespace tally::otp
