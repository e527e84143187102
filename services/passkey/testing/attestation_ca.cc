#include "services/passkey/testing/attestation_ca.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <stdexcept>

namespace tally::webauthn::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

EvpPkeyPtr NewP256Key() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  Check(key != nullptr, "P-256 key generation");
  return key;
}

void AddName(X509_NAME* name, const char* field, absl::string_view value) {
  Check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) == 1,
        "certificate name");
}

void AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  Check(ext != nullptr && X509_add_ext(cert, ext, -1) == 1, "certificate extension");
  X509_EXTENSION_free(ext);
}

// id-fido-gen-ce-aaguid: an OCTET STRING holding the DER of an OCTET STRING of 16 bytes.
void AddAaguidExtension(X509* cert, absl::string_view aaguid) {
  OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> inner(ASN1_OCTET_STRING_new());
  Check(ASN1_OCTET_STRING_set(inner.get(), reinterpret_cast<const unsigned char*>(aaguid.data()),
                              static_cast<int>(aaguid.size())) == 1,
        "AAGUID");
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  Check(len > 0, "AAGUID encoding");
  OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> outer(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(outer.get(), der, len);
  OPENSSL_free(der);
  Asn1ObjectPtr oid(OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1));
  X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, outer.get());
  Check(ext != nullptr && X509_add_ext(cert, ext, -1) == 1, "AAGUID extension");
  X509_EXTENSION_free(ext);
}

// An unsigned certificate for `subject_key` named `subject`, issued by `issuer` (null: itself).
X509Ptr NewCertificate(EVP_PKEY* subject_key, X509_NAME* subject, X509* issuer, long serial) {
  X509Ptr cert(X509_new());
  Check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), subject_key);
  X509_set_subject_name(cert.get(), subject);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (issuer == nullptr) {
    AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  }
  return cert;
}

std::string Der(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  Check(len > 0, "certificate encoding");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

AttestationCa::AttestationCa(absl::string_view name) : key_(NewP256Key()) {
  OpenSslPtr<X509_NAME, X509_NAME_free> subject(X509_NAME_new());
  AddName(subject.get(), "C", "US");
  AddName(subject.get(), "O", "Tally Test Vendor");
  AddName(subject.get(), "CN", name);
  cert_ = NewCertificate(key_.get(), subject.get(), nullptr, 1);
  Check(X509_sign(cert_.get(), key_.get(), EVP_sha256()) > 0, "root signature");
}

std::string AttestationCa::RootPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_X509(bio.get(), cert_.get()) == 1, "PEM encoding");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::shared_ptr<const AttestationKey> AttestationCa::Issue(absl::string_view aaguid,
                                                           bool aaguid_extension) const {
  auto out = std::make_shared<AttestationKey>();
  out->key = NewP256Key();
  OpenSslPtr<X509_NAME, X509_NAME_free> subject(X509_NAME_new());
  AddName(subject.get(), "C", "US");
  AddName(subject.get(), "O", "Tally Test Vendor");
  AddName(subject.get(), "OU", "Authenticator Attestation");
  AddName(subject.get(), "CN", "Tally Test Authenticator");
  static std::atomic<long> serial{100};
  X509Ptr cert = NewCertificate(out->key.get(), subject.get(), cert_.get(), ++serial);
  if (aaguid_extension) AddAaguidExtension(cert.get(), aaguid);
  Check(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0, "certificate signature");
  out->x5c.push_back(Der(cert.get()));
  return out;
}

}  // namespace tally::webauthn::testing
