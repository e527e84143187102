#pragma once

// A software attestation CA for tests: a root and the batch certificates of authenticator
// models, shaped as a vendor issues them (WebAuthn §8.2.1), so that registrations with "packed"
// x5c attestation can be driven end to end. Test-only: never link it into a server.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/util/openssl_ptr.h"

namespace tally::webauthn::testing {

// What an authenticator model carries to attest its credentials.
struct AttestationKey {
  EvpPkeyPtr key;                // P-256: signs the statement as ES256
  std::vector<std::string> x5c;  // DER, the batch certificate first
};

class AttestationCa {
 public:
  // A fresh P-256 root named `name`.
  explicit AttestationCa(absl::string_view name = "Tally Test Attestation Root");

  std::string RootPem() const;

  // A batch key for authenticators of `aaguid` (16 raw bytes) with a certificate this CA signed
  // (v3, C/O/CN and OU "Authenticator Attestation", not a CA); the certificate names the AAGUID
  // in id-fido-gen-ce-aaguid unless `aaguid_extension` is false (the extension is optional).
  std::shared_ptr<const AttestationKey> Issue(absl::string_view aaguid,
                                              bool aaguid_extension = true) const;

 private:
  EvpPkeyPtr key_;
  X509Ptr cert_;
};

}  // namespace tally::webauthn::testing
