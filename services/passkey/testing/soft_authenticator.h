#pragma once

// A software WebAuthn authenticator and client for tests: real OpenSSL keys (ES256, EdDSA,
// RS256), attestation objects with "none" or "packed" attestation (self, or x5c with an
// AttestationKey), signed assertions, and the JSON a browser's PublicKeyCredential.toJSON()
// produces. Test-only: never link it into a server.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "absl/strings/string_view.h"
#include "services/passkey/testing/attestation_ca.h"

namespace tally::webauthn::testing {

// Minimal CBOR encoding of what authenticators emit (definite lengths only).
std::string CborHead(int major, uint64_t value);
std::string CborUint(uint64_t v);
std::string CborInt(int64_t v);
std::string CborBytes(absl::string_view b);
std::string CborText(absl::string_view t);

std::string B64(absl::string_view data);  // base64url, no padding

class SoftAuthenticator {
 public:
  enum class Alg { kES256, kEdDSA, kRS256 };

  explicit SoftAuthenticator(Alg alg);
  ~SoftAuthenticator();
  SoftAuthenticator(const SoftAuthenticator&) = delete;
  SoftAuthenticator& operator=(const SoftAuthenticator&) = delete;

  struct Ceremony {
    std::string rp_id;
    std::string origin;
    std::string challenge;  // raw bytes
    std::string type;       // override clientDataJSON.type when non-empty
    bool user_verified = true;
    bool backup_eligible = false;
    bool backup_state = false;
    bool cross_origin = false;
  };

  // RegistrationResponseJSON for a new credential; `attestation` is "none" or "packed" (x5c
  // when an attestation key is set, else self attestation).
  std::string Register(const Ceremony& c, const std::string& user_handle,
                       absl::string_view attestation = "none");
  // AuthenticationResponseJSON; counts up the signature counter unless `counter` is given.
  std::string Assert(const Ceremony& c, bool include_user_handle = true);

  // The browser side: answers options JSON as the service produced it (challenge, rp.id,
  // user.id are read from it).
  std::string RegisterFromOptions(absl::string_view creation_options_json,
                                  const std::string& origin, absl::string_view attestation = "none");
  std::string AssertFromOptions(absl::string_view request_options_json, const std::string& origin);

  const std::string& credential_id() const { return credential_id_; }
  const std::string& user_handle() const { return user_handle_; }
  std::string CosePublicKey() const;
  int cose_alg() const;
  uint32_t counter() const { return counter_; }
  void set_counter(uint32_t counter) { counter_ = counter; }
  // The model's AAGUID (16 bytes) in registrations; 0x42 repeated unless set.
  void set_aaguid(std::string aaguid) { aaguid_ = std::move(aaguid); }
  // "packed" registrations carry this key's x5c chain and signature; null: self attestation.
  void set_attestation_key(std::shared_ptr<const AttestationKey> key) {
    attestation_key_ = std::move(key);
  }
  // false: a security key without a PIN or biometrics, whose responses to *FromOptions have
  // UV = 0 (user presence only).
  void set_verifies_user(bool verifies_user) { verifies_user_ = verifies_user; }

  std::string Sign(absl::string_view data) const;
  std::string ClientDataJson(const Ceremony& c, absl::string_view default_type) const;
  uint8_t Flags(const Ceremony& c, bool attested) const;

 private:
  Alg alg_;
  EVP_PKEY* key_ = nullptr;
  std::string credential_id_;
  std::string user_handle_;
  uint32_t counter_ = 0;
  std::string aaguid_ = std::string(16, '\x42');
  std::shared_ptr<const AttestationKey> attestation_key_;
  bool verifies_user_ = true;
};

}  // namespace tally::webauthn::testing
