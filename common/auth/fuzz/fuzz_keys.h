#pragma once

// What every JWT fuzz target shares: one fixed Ed25519 key, the verifier that trusts it and a
// frozen clock, so a seed token made by make_jwt_corpus stays valid for ever. The key is public
// test material: it signs nothing outside the fuzz targets.

#include <string>

#include "absl/time/time.h"
#include "common/auth/jwt.h"
#include "common/testing/fake_clock.h"
#include "common/util/clock.h"

namespace tally::fuzz {

inline constexpr char kIssuer[] = "tally";
// 2026-01-01T00:00:00Z: seed tokens are issued here and live for an hour.
inline constexpr int64_t kNowUnixSeconds = 1767225600;

// Never moved: the shared test clock, left where it starts.
inline const Clock& Frozen() {
  static const testing::FakeClock clock(absl::FromUnixSeconds(kNowUnixSeconds));
  return clock;
}

// RFC 8032's first Ed25519 test vector (the seed 9d61b19d...); "x" is its public key.
inline Ed25519PrivateKey FuzzKey() {
  static const std::string seed(
      "\x9d\x61\xb1\x9d\xef\xfd\x5a\x60\xba\x84\x4a\xf4\x92\xec\x2c\xc4"
      "\x44\x49\xc5\x69\x7b\x32\x69\x19\x70\x3b\xac\x03\x1c\xae\x7f\x60",
      32);
  return *Ed25519PrivateKey::FromRaw(seed);
}

inline const JwtSigner& Signer() {
  static const JwtSigner* signer = new JwtSigner(FuzzKey());
  return *signer;
}

inline JwtVerifierOptions Options() {
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  return options;
}

inline const JwtVerifier& Verifier() {
  static const JwtVerifier* verifier =
      new JwtVerifier(*JwtVerifier::FromKeys({Signer().PublicKey()}, Options(), Frozen()));
  return *verifier;
}

// Stops the fuzzer with a crash: an invariant of the code under test does not hold.
[[noreturn]] inline void Fail() { __builtin_trap(); }

}  // namespace tally::fuzz
