#pragma once

// Argon2id password hashes (RFC 9106) through libargon2, stored as PHC strings:
//   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
// with salt and hash in standard base64 without padding. Each hash gets a fresh 16-byte salt
// from the CSPRNG and is 32 bytes long. Hashing is deliberately slow and memory-hungry: callers
// bound how many run at once (HashLimiter).

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/util/random.h"
#include "services/credential/argon2_buffers.h"

namespace tally::credential {

struct Argon2Params {
  uint32_t memory_kib = 19456;  // OWASP's first Argon2id configuration: m = 19 MiB,
  uint32_t iterations = 2;      // t = 2,
  uint32_t parallelism = 1;     // p = 1

  friend bool operator==(const Argon2Params&, const Argon2Params&) = default;
};

// INVALID_ARGUMENT unless 1 <= parallelism <= 16, 1 <= iterations <= 64 and
// 8 * parallelism <= memory_kib <= 4 GiB: the bounds also applied to stored strings, so every
// hash this service writes can be read back.
absl::Status ValidateArgon2Params(const Argon2Params& params);

// A parsed PHC string.
struct Argon2idHash {
  Argon2Params params;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes
};

// Strict parser for what EncodePhc writes (version 19 only, parameters in m,t,p order, no
// optional fields, salt 8..64 bytes, hash 16..64 bytes, parameters within ValidateArgon2Params).
// INVALID_ARGUMENT otherwise; the message never quotes the input.
absl::StatusOr<Argon2idHash> ParsePhc(std::string_view encoded);
std::string EncodePhc(const Argon2idHash& hash);

class PasswordHasher {
 public:
  static constexpr size_t kSaltBytes = 16;
  static constexpr size_t kHashBytes = 32;

  // `params` must pass ValidateArgon2Params; `random` must outlive the hasher, and so must
  // `buffers` when given (Argon2's memory comes from it while a buffer is free and big enough).
  PasswordHasher(Argon2Params params, RandomSource& random, Argon2Buffers* buffers = nullptr)
      : params_(params), random_(random), buffers_(buffers) {}

  // A PHC string for `password` with the current parameters and a fresh salt. INTERNAL if
  // libargon2 fails (out of memory).
  absl::StatusOr<std::string> Hash(std::string_view password) const;

  struct Verdict {
    bool match = false;
    // The stored string was made with other parameters, salt or hash length than Hash() uses
    // now: hash the password again (only meaningful when it matched).
    bool needs_rehash = false;
  };
  // Re-derives the hash of `password` with the parameters and salt of `encoded` and compares in
  // constant time. INVALID_ARGUMENT for a string ParsePhc refuses.
  absl::StatusOr<Verdict> Verify(std::string_view encoded, std::string_view password) const;

  const Argon2Params& params() const { return params_; }

  // The raw Argon2id (version 19) hash: for Hash, Verify and known-answer tests. Its working
  // memory comes from `buffers` when one is free and big enough, else from libargon2's malloc.
  static absl::StatusOr<std::string> Derive(std::string_view password, std::string_view salt,
                                            const Argon2Params& params, size_t hash_bytes,
                                            Argon2Buffers* buffers = nullptr);

 private:
  Argon2Params params_;
  RandomSource& random_;
  Argon2Buffers* buffers_;
};

}  // namespace tally::credential
