#pragma once

// One-time passwords of authenticator apps: HOTP (RFC 4226) and TOTP (RFC 6238), with HMAC
// from common/util/crypto.h (OpenSSL EVP). Pure functions: the clock and the replay state
// belong to TotpManager.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/util/crypto.h"

namespace tally::credential {

struct TotpParams {
  HashAlgorithm algorithm = HashAlgorithm::kSha1;  // what every authenticator app supports
  int digits = 6;                                  // 6 to 8
  absl::Duration period = absl::Seconds(30);       // the time step X, whole seconds
  // Steps either side of the current one that still count, for clock drift and typing time.
  int window = 1;
};

// RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, the low `digits`
// decimal digits, zero-padded.
std::string Hotp(HashAlgorithm algorithm, absl::string_view key, uint64_t counter, int digits);

// RFC 6238 §4.2: the time step of `time`, floor((time - T0) / period) with T0 = the Unix epoch.
int64_t TimeStep(absl::Time time, absl::Duration period);

// The code an app shows at `time`.
std::string Totp(const TotpParams& params, absl::string_view key, absl::Time time);

// The step, within `params.window` of `now`'s, whose code `code` is (the latest when several
// match); nullopt when none does. Every candidate is computed and compared in constant time,
// so the answer's timing does not tell which step matched. Replay is the caller's business:
// a step must be accepted once per user.
std::optional<int64_t> MatchTotp(const TotpParams& params, absl::string_view key,
                                 absl::string_view code, absl::Time now);

// The name of `algorithm` in otpauth URIs: SHA1, SHA256, SHA512.
absl::string_view AlgorithmName(HashAlgorithm algorithm);

// The key URI apps scan (Google Authenticator's "Key Uri Format"): otpauth://totp/
// <issuer>:<account>?secret=<base32>&issuer=<issuer>&algorithm=…&digits=…&period=…
// Issuer and account are percent-encoded (RFC 3986: all but unreserved characters, so a ':',
// '&', '?', '#', space or non-ASCII byte in a directory's name cannot break the URI).
std::string OtpauthUri(absl::string_view issuer, absl::string_view account,
                       absl::string_view secret, const TotpParams& params);

}  // namespace tally::credential
