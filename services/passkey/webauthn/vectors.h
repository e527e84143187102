#pragma once

// Interoperability vector files (../shared/testdata/webauthn/README.md): each case is a
// browser response with what the relying party expected and the expected outcome. Used by the
// vector tests and by `tallyctl webauthn check`.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/passkey/webauthn/webauthn.h"

namespace tally::webauthn {

struct VectorCase {
  std::string name;
  bool registration = false;  // else authentication
  std::string credential_json;  // the browser's PublicKeyCredential.toJSON()
  std::string challenge;        // raw bytes
  RelyingParty rp;
  std::string credential_public_key;  // authentication: the stored COSE key (raw bytes)
  uint32_t stored_sign_count = 0;
  std::string fmt;
  bool expect_accept = false;
  std::string expect_reason;
};

// Parses a vector file (a JSON array of cases). INVALID_ARGUMENT names the broken case.
absl::StatusOr<std::vector<VectorCase>> ParseVectorFile(absl::string_view text);

// Runs one case through the verifier: OK when the response is accepted, otherwise why not.
absl::Status RunVectorCase(const VectorCase& c);

}  // namespace tally::webauthn
