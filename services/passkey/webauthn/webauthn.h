#pragma once

// The relying-party steps of WebAuthn Level 3: §7.1 (registering a new credential) and §7.2
// (verifying an authentication assertion). Pure code: no I/O, no clock, no storage. The caller
// supplies what the ceremony expects (challenge, RP ID, origins, policy) and, for an assertion,
// the stored credential; it gets back what to store or the reason for refusing.
//
// Errors: INVALID_ARGUMENT for input that is not a well-formed WebAuthn response (JSON, base64url,
// CBOR, authenticator data, COSE key shape); UNAUTHENTICATED for a well-formed response that
// fails a check (type, challenge, origin, RP ID hash, flags, algorithm, signature, attestation,
// counter). Every error carries a short reason code (ReasonOf, reasons.h) for metrics and a
// message a developer can act on. Attestation statements are attestation.h, the CA certificates
// they may be checked against trust_anchors.h.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/passkey/webauthn/reasons.h"
#include "services/passkey/webauthn/trust_anchors.h"

namespace tally::webauthn {

// Largest credential id (WebAuthn: at most 1023 bytes).
inline constexpr size_t kMaxCredentialIdBytes = 1023;
// Largest response JSON we look at; real ones are a few KiB.
inline constexpr size_t kMaxResponseJsonBytes = 256 * 1024;

// Authenticator data flags.
inline constexpr uint8_t kFlagUP = 0x01;
inline constexpr uint8_t kFlagUV = 0x04;
inline constexpr uint8_t kFlagBE = 0x08;
inline constexpr uint8_t kFlagBS = 0x10;
inline constexpr uint8_t kFlagAT = 0x40;
inline constexpr uint8_t kFlagED = 0x80;

struct AuthenticatorData {
  std::string rp_id_hash;  // 32 bytes
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  // Present when AT is set.
  std::string aaguid;              // 16 bytes
  std::string credential_id;       // at most kMaxCredentialIdBytes
  std::string credential_public_key;  // the encoded COSE_Key
  std::string extensions;          // the encoded extensions map, when ED is set
};

// Parses authenticator data strictly: AT and ED say exactly what follows, nothing may trail.
absl::StatusOr<AuthenticatorData> ParseAuthenticatorData(absl::string_view data);

// What the relying party expects of every ceremony.
struct RelyingParty {
  std::string rp_id;
  std::vector<std::string> origins;  // exact origins, e.g. "https://login.example.com"
  bool allow_cross_origin = false;   // accept crossOrigin: true (the page is in an iframe)
  std::vector<std::string> top_origins;  // allowed topOrigin values when cross-origin
  bool require_user_verification = false;
};

struct RegistrationExpectation {
  RelyingParty rp;
  std::string challenge;  // the raw bytes issued
  // pubKeyCredParams offered; empty means every supported algorithm.
  std::vector<int> algorithms;
  // When set, x5c attestation chains must lead to these anchors.
  std::shared_ptr<const TrustAnchors> trust_anchors;
  // When set, a registration counts only with an x5c chain to `trust_anchors` and an AAGUID in
  // `allowed_aaguids`. The AAGUID of "none" or self attestation is whatever the client wrote,
  // so it never counts (Keycloak CVE-2026-6856).
  bool require_attestation = false;
  std::vector<std::string> allowed_aaguids;  // 16 raw bytes each
};

struct RegisteredCredential {
  std::string credential_id;    // raw bytes
  std::string public_key_cose;  // the encoded COSE_Key, to store
  int algorithm = 0;
  uint32_t sign_count = 0;
  std::string aaguid;  // 16 raw bytes
  bool user_verified = false;
  bool backup_eligible = false;
  bool backup_state = false;
  std::vector<std::string> transports;
  std::string format;            // "none", "packed", "fido-u2f"
  std::string attestation_type;  // "none", "self", "basic"
  bool attestation_trusted = false;  // the chain led to the trust anchors
};

absl::StatusOr<RegisteredCredential> VerifyRegistration(absl::string_view response_json,
                                                        const RegistrationExpectation& expect);

// An authentication response, decoded but not yet verified: the caller finds the credential
// (and for a discoverable login, the user) from it.
struct AssertionResponse {
  std::string credential_id;  // raw bytes
  std::string client_data_json;
  std::string authenticator_data;
  std::string signature;
  std::optional<std::string> user_handle;  // raw bytes, when the authenticator returned one
};

absl::StatusOr<AssertionResponse> ParseAssertionResponse(absl::string_view response_json);

struct StoredCredential {
  // As VerifyRegistration returned it: the full key validation is not repeated per assertion.
  std::string public_key_cose;
  uint32_t sign_count = 0;
  // The BE flag recorded at registration, when known: it must not change.
  std::optional<bool> backup_eligible;
};

struct AuthenticationExpectation {
  RelyingParty rp;
  std::string challenge;  // the raw bytes issued
};

struct VerifiedAssertion {
  uint32_t sign_count = 0;
  bool user_verified = false;
  bool backup_eligible = false;
  bool backup_state = false;
};

// Every §7.2 check from the client data on. A sign counter that did not move forward (when
// either counter is non-zero) is UNAUTHENTICATED with reason "counter": a possible clone.
absl::StatusOr<VerifiedAssertion> VerifyAssertion(const AssertionResponse& response,
                                                  const AuthenticationExpectation& expect,
                                                  const StoredCredential& credential);

// Formats 16 AAGUID bytes as a UUID string.
std::string FormatAaguid(absl::string_view aaguid);
// The 16 bytes of an AAGUID written as a UUID (any case); INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseAaguid(absl::string_view uuid);

}  // namespace tally::webauthn
