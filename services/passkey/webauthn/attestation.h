#pragma once

// WebAuthn attestation statements (§8): what proves where a new credential comes from. The
// formats we verify are "none", "packed" (self and x5c) and "fido-u2f"; x5c chains are checked
// against the trust anchors when the relying party configured some.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/passkey/webauthn/cbor.h"
#include "services/passkey/webauthn/crypto.h"
#include "services/passkey/webauthn/trust_anchors.h"
#include "services/passkey/webauthn/webauthn.h"

namespace tally::webauthn {

struct AttestationResult {
  std::string type;  // "none", "self", "basic"
  // An x5c chain that led to the trust anchors: only then does the statement vouch for the
  // authenticator data (its AAGUID included).
  bool trusted = false;
};

// §7.1 step 21: verifies the statement `att_stmt` of format `fmt` over the authenticator data
// (`auth_data_bytes`, parsed as `auth_data`) and the client data hash, for the credential key
// the authenticator data carries. `trust_anchors` may be null (then any chain is accepted once
// its signature holds). INVALID_ARGUMENT for a statement of the wrong shape, UNAUTHENTICATED
// with reason "attestation" for one that does not verify or an unsupported format.
absl::StatusOr<AttestationResult> VerifyAttestationStatement(
    absl::string_view fmt, const cbor_item_t* att_stmt, absl::string_view auth_data_bytes,
    const AuthenticatorData& auth_data, const CosePublicKey& credential_key,
    absl::string_view client_data_hash, const TrustAnchors* trust_anchors);

}  // namespace tally::webauthn
