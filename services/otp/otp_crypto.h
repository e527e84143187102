#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/util/crypto.h"
#include "common/util/random.h"

namespace tally::otp {

// Length of an OTP code: 6 decimal digits (DESIGN.md §6).
inline constexpr int kCodeDigits = 6;

// A uniformly distributed 6-digit code from `random`: 32-bit draws at or above the largest
// multiple of 10^6 are rejected, so there is no modulo bias.
std::string GenerateCode(RandomSource& random);

// The key handling, HMACs and AES-256-GCM live in common/util/crypto.h (credential uses them
// too); these names keep the OTP code reading as before.
using ::tally::DecodeSecret;
using ::tally::HexEncode;
using ::tally::HmacSha256;
using ::tally::OpenAesGcm;
using ::tally::SealAesGcm;

}  // namespace tally::otp
