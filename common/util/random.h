#pragma once

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace tally {

// Source of unpredictable bytes, injected so tests can make ids deterministic.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(absl::Span<uint8_t> out) = 0;
};

// OpenSSL's CSPRNG (RAND_bytes). Thread-safe.
class CsprngRandom final : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override;
  static RandomSource& Get();
};

// An opaque identifier: `prefix` followed by 128 random bits in lower-case base32 (26 chars).
std::string NewId(RandomSource& random, std::string_view prefix);

}  // namespace tally
