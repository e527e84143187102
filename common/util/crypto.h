#pragma once

// Symmetric cryptography on OpenSSL EVP shared by the services that keep secrets of their own:
// keys from configuration, HMACs, digests and AES-256-GCM sealing (OTP delivery jobs, TOTP
// secrets at rest, recovery-code MACs).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/util/random.h"

namespace tally {

// A secret from configuration: hex (an even number of hex digits, at least 64) or base64
// (standard or URL-safe alphabet, padding optional). INVALID_ARGUMENT when it is neither or
// decodes to fewer than `min_bytes` (or, with exact, not exactly `min_bytes`). The message
// never repeats the secret.
absl::StatusOr<std::string> DecodeSecret(absl::string_view text, size_t min_bytes, bool exact,
                                         absl::string_view name);

enum class HashAlgorithm { kSha1, kSha256, kSha512 };

// HMAC (OpenSSL EVP) with `algorithm`, raw bytes (20, 32 or 64).
std::string Hmac(HashAlgorithm algorithm, absl::string_view key, absl::string_view data);
// HMAC-SHA256, 32 raw bytes.
std::string HmacSha256(absl::string_view key, absl::string_view data);
// SHA-256, 32 raw bytes.
std::string Sha256(absl::string_view data);

// Lower-case hex of bytes.
std::string HexEncode(absl::string_view bytes);

// AES-256-GCM with a fresh random 12-byte nonce: nonce ‖ ciphertext ‖ 16-byte tag. `aad` is
// authenticated but not encrypted (binds the ciphertext to what it belongs to). `key` must be
// 32 bytes (checked at start-up; anything else aborts).
std::string SealAesGcm(absl::string_view key, absl::string_view plaintext, absl::string_view aad,
                       RandomSource& random);
// The inverse; DATA_LOSS when the input is truncated, the tag does not verify (wrong key,
// tampered ciphertext or a different aad).
absl::StatusOr<std::string> OpenAesGcm(absl::string_view key, absl::string_view sealed,
                                       absl::string_view aad);

}  // namespace tally
