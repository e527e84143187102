#pragma once

// Why the verifier refused something: a short, stable reason code on every status it returns
// (for metrics), and the helpers its files use to attach one.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tally::webauthn {

// Short, stable reason codes (metric labels).
namespace reason {
inline constexpr char kMalformed[] = "malformed";
inline constexpr char kType[] = "type";
inline constexpr char kChallenge[] = "challenge";
inline constexpr char kOrigin[] = "origin";
inline constexpr char kCrossOrigin[] = "cross_origin";
inline constexpr char kTokenBinding[] = "token_binding";
inline constexpr char kRpId[] = "rp_id";
inline constexpr char kUserPresence[] = "user_presence";
inline constexpr char kUserVerification[] = "user_verification";
inline constexpr char kBackupFlags[] = "backup_flags";
inline constexpr char kAlgorithm[] = "algorithm";
inline constexpr char kSignature[] = "signature";
inline constexpr char kAttestation[] = "attestation";
inline constexpr char kAaguid[] = "aaguid";
inline constexpr char kCredential[] = "credential";
inline constexpr char kCounter[] = "counter";
}  // namespace reason

// The reason code attached to a status from this library ("malformed" for INVALID_ARGUMENT
// without one, "other" for anything else).
std::string ReasonOf(const absl::Status& status);

// For the verifier's own files:
// INVALID_ARGUMENT with reason "malformed": input that is not a well-formed response.
absl::Status Malformed(absl::string_view message);
// UNAUTHENTICATED with `reason`: a well-formed response that fails a check.
absl::Status Refused(absl::string_view reason, absl::string_view message);
// `status` with its code and message, and `reason` unless it has one already.
absl::Status Tagged(absl::Status status, absl::string_view reason);
// A value from the client quoted in an error: only when short and printable.
std::string Quote(absl::string_view value);

}  // namespace tally::webauthn
