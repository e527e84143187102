#include "services/passkey/webauthn/attestation.h"

#include <cstdint>
#include <optional>
#include <vector>

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/util/openssl_ptr.h"
#include "services/passkey/webauthn/reasons.h"

namespace tally::webauthn {
namespace {

// id-fido-gen-ce-aaguid: the AAGUID in an attestation certificate.
constexpr char kAaguidExtensionOid[] = "1.3.6.1.4.1.45724.1.1.4";

std::vector<std::string> CertChain(const cbor_item_t* x5c, absl::Status* status) {
  std::vector<std::string> chain;
  if (x5c == nullptr || !cbor_isa_array(x5c) || cbor_array_size(x5c) == 0) {
    *status = Malformed("attStmt.x5c must be a non-empty array of certificates");
    return chain;
  }
  cbor_item_t** items = cbor_array_handle(x5c);
  for (size_t i = 0; i < cbor_array_size(x5c); ++i) {
    std::optional<std::string> der = CborBytes(items[i]);
    if (!der) {
      *status = Malformed("attStmt.x5c must hold byte strings");
      return {};
    }
    chain.push_back(*std::move(der));
  }
  *status = absl::OkStatus();
  return chain;
}

std::optional<std::string> NameEntry(X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::nullopt;
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), len);
  OPENSSL_free(utf8);
  return out;
}

// §8.2.1: packed attestation certificate requirements, and the AAGUID extension.
absl::Status CheckPackedCertificate(X509* cert, absl::string_view aaguid) {
  if (X509_get_version(cert) != 2) {
    return Refused(reason::kAttestation, "attestation certificate must be X.509 version 3");
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  if (NameEntry(subject, NID_organizationalUnitName) != "Authenticator Attestation" ||
      !NameEntry(subject, NID_countryName) || !NameEntry(subject, NID_organizationName) ||
      !NameEntry(subject, NID_commonName)) {
    return Refused(reason::kAttestation,
                   "attestation certificate subject must have C, O, CN and "
                   "OU=\"Authenticator Attestation\"");
  }
  if (X509_get_extension_flags(cert) & EXFLAG_CA) {
    return Refused(reason::kAttestation, "attestation certificate must not be a CA");
  }
  const Asn1ObjectPtr oid(OBJ_txt2obj(kAaguidExtensionOid, 1));
  const int index = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (index >= 0) {
    X509_EXTENSION* ext = X509_get_ext(cert, index);
    if (X509_EXTENSION_get_critical(ext)) {
      return Refused(reason::kAttestation, "the AAGUID extension must not be critical");
    }
    ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(outer);
    const unsigned char* end = p + ASN1_STRING_length(outer);
    const Asn1OctetStringPtr inner(
        d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(outer)));
    const bool match =
        inner != nullptr && p == end && ASN1_STRING_length(inner.get()) == 16 &&
        absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner.get())),
                          16) == aaguid;
    if (!match) {
      return Refused(reason::kAttestation,
                     "the certificate's AAGUID extension does not match the authenticator data");
    }
  }
  return absl::OkStatus();
}

// An x5c chain must lead to a configured anchor; without anchors any chain is taken.
absl::Status CheckTrust(const TrustAnchors* trust_anchors, const std::vector<std::string>& chain) {
  if (trust_anchors == nullptr) return absl::OkStatus();
  absl::Status status = trust_anchors->Verify(chain);
  if (!status.ok()) return Refused(reason::kAttestation, status.message());
  return status;
}

}  // namespace

absl::StatusOr<AttestationResult> VerifyAttestationStatement(
    absl::string_view fmt, const cbor_item_t* att_stmt, absl::string_view auth_data_bytes,
    const AuthenticatorData& auth_data, const CosePublicKey& credential_key,
    absl::string_view client_data_hash, const TrustAnchors* trust_anchors) {
  if (!cbor_isa_map(att_stmt)) return Malformed("attStmt must be a map");
  const std::string signed_data = absl::StrCat(auth_data_bytes, client_data_hash);
  if (fmt == "none") {
    if (cbor_map_size(att_stmt) != 0) return Malformed("attStmt of format none must be empty");
    return AttestationResult{"none"};
  }
  if (fmt == "packed") {
    std::optional<int64_t> alg = CborInt(CborMapGet(att_stmt, "alg"));
    std::optional<std::string> sig = CborBytes(CborMapGet(att_stmt, "sig"));
    if (!alg || !sig) return Malformed("packed attStmt needs alg and sig");
    if (CborMapGet(att_stmt, "ecdaaKeyId") != nullptr) {
      return Refused(reason::kAttestation, "ECDAA attestation is not supported");
    }
    if (*alg < INT32_MIN || *alg > INT32_MAX || !IsSupportedAlgorithm(static_cast<int>(*alg))) {
      return Refused(reason::kAttestation,
                     absl::StrCat("packed attestation algorithm ", *alg, " is not supported"));
    }
    const cbor_item_t* x5c = CborMapGet(att_stmt, "x5c");
    if (x5c == nullptr) {
      // Self attestation: signed by the credential key itself.
      if (*alg != credential_key.alg) {
        return Refused(reason::kAttestation,
                       "self attestation algorithm differs from the credential's algorithm");
      }
      if (absl::Status s = VerifySignature(credential_key.alg, credential_key.key.get(),
                                           signed_data, *sig);
          !s.ok()) {
        return Refused(reason::kAttestation,
                       absl::StrCat("packed self attestation: ", s.message()));
      }
      return AttestationResult{"self"};
    }
    absl::Status status;
    std::vector<std::string> chain = CertChain(x5c, &status);
    if (!status.ok()) return status;
    absl::StatusOr<X509Ptr> leaf = ParseCertificate(chain[0]);
    if (!leaf.ok()) return Malformed(leaf.status().message());
    EVP_PKEY* leaf_key = X509_get0_pubkey(leaf->get());
    if (leaf_key == nullptr) return Malformed("attestation certificate has no usable public key");
    if (absl::Status s = VerifySignature(static_cast<int>(*alg), leaf_key, signed_data, *sig);
        !s.ok()) {
      return Refused(reason::kAttestation, absl::StrCat("packed attestation: ", s.message()));
    }
    if (absl::Status s = CheckPackedCertificate(leaf->get(), auth_data.aaguid); !s.ok()) return s;
    if (absl::Status s = CheckTrust(trust_anchors, chain); !s.ok()) return s;
    return AttestationResult{"basic", trust_anchors != nullptr};
  }
  if (fmt == "fido-u2f") {
    std::optional<std::string> sig = CborBytes(CborMapGet(att_stmt, "sig"));
    if (!sig) return Malformed("fido-u2f attStmt needs sig");
    absl::Status status;
    std::vector<std::string> chain = CertChain(CborMapGet(att_stmt, "x5c"), &status);
    if (!status.ok()) return status;
    if (chain.size() != 1) {
      return Malformed("fido-u2f attStmt.x5c must hold exactly one certificate");
    }
    absl::StatusOr<X509Ptr> cert = ParseCertificate(chain[0]);
    if (!cert.ok()) return Malformed(cert.status().message());
    EVP_PKEY* cert_key = X509_get0_pubkey(cert->get());
    if (cert_key == nullptr || !KeyMatchesAlgorithm(kAlgES256, cert_key)) {
      return Refused(reason::kAttestation,
                     "fido-u2f attestation certificate key must be EC P-256");
    }
    if (credential_key.alg != kAlgES256 || credential_key.kty != 2) {
      return Refused(reason::kAttestation, "fido-u2f credentials must be ES256 (EC2 P-256)");
    }
    const std::string verification_data =
        absl::StrCat(absl::string_view("\x00", 1), auth_data.rp_id_hash, client_data_hash,
                     auth_data.credential_id, "\x04", credential_key.x, credential_key.y);
    if (absl::Status s = VerifySignature(kAlgES256, cert_key, verification_data, *sig); !s.ok()) {
      return Refused(reason::kAttestation, absl::StrCat("fido-u2f attestation: ", s.message()));
    }
    if (absl::Status s = CheckTrust(trust_anchors, chain); !s.ok()) return s;
    return AttestationResult{"basic", trust_anchors != nullptr};
  }
  return Refused(reason::kAttestation,
                 absl::StrCat("attestation format ", Quote(fmt),
                              " is not supported (supported: none, packed, fido-u2f)"));
}

}  // namespace tally::webauthn
