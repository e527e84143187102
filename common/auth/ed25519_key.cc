#include "common/auth/ed25519_key.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/util/file.h"
#include "common/util/openssl_ptr.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally {
namespace {

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* p) {
  return std::shared_ptr<EVP_PKEY>(EvpPkeyPtr(p));
}

// OpenSSL's error queue is per thread; leaving entries behind would confuse the next caller
// that inspects it.
void ClearOpenSslErrors() { ERR_clear_error(); }

// Refuses to prompt on a terminal for a passphrase: encrypted keys are a configuration error.
int NoPassphrase(char*, int, int, void*) { return -1; }

BioPtr MemBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

bool IsEd25519(const EVP_PKEY* p) { return p != nullptr && EVP_PKEY_get_id(p) == EVP_PKEY_ED25519; }

// PEM_read_bio_PUBKEY or PEM_read_bio_PrivateKey.
using PemReader = EVP_PKEY* (*)(BIO*, EVP_PKEY**, pem_password_cb*, void*);

// The Ed25519 key `read` finds in `pem`: INVALID_ARGUMENT "<kind> key PEM too large", or
// `not_ed25519` for anything else (no key, another type, an encrypted key).
absl::StatusOr<std::shared_ptr<EVP_PKEY>> ReadEd25519Pem(std::string_view pem, PemReader read,
                                                         absl::string_view kind,
                                                         absl::string_view not_ed25519) {
  BioPtr bio = MemBio(pem);
  if (bio == nullptr) return absl::InvalidArgumentError(absl::StrCat(kind, " key PEM too large"));
  EVP_PKEY* raw = read(bio.get(), nullptr, NoPassphrase, nullptr);
  std::shared_ptr<EVP_PKEY> pkey = raw ? Share(raw) : nullptr;
  ClearOpenSslErrors();
  if (!IsEd25519(pkey.get())) return absl::InvalidArgumentError(not_ed25519);
  return pkey;
}

// Key::FromPem of a file's text; the path says which file was wrong.
template <typename Key>
absl::StatusOr<Key> FromPemFileOf(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<Key> key = Key::FromPem(*pem);
  // A private key's text must not linger in freed memory.
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key.status().message(), ": ", path));
  }
  return key;
}

}  // namespace

// ---- Ed25519PublicKey ----

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(std::string_view pem) {
  absl::StatusOr<std::shared_ptr<EVP_PKEY>> pkey =
      ReadEd25519Pem(pem, PEM_read_bio_PUBKEY, "public",
                     "not an Ed25519 public key PEM (SubjectPublicKeyInfo)");
  if (!pkey.ok()) return pkey.status();
  return Ed25519PublicKey(*std::move(pkey));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPemFile(const std::string& path) {
  return FromPemFileOf<Ed25519PublicKey>(path);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(std::string_view raw) {
  if (raw.size() != kRawSize) {
    return absl::InvalidArgumentError("an Ed25519 public key is 32 bytes");
  }
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  ClearOpenSslErrors();
  if (p == nullptr) return absl::InvalidArgumentError("bad Ed25519 public key");
  return Ed25519PublicKey(Share(p));
}

std::string Ed25519PublicKey::Raw() const {
  std::string out(kRawSize, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(out.data()),
                                  &len) != 1 ||
      len != kRawSize) {
    ClearOpenSslErrors();
    return "";
  }
  return out;
}

std::string Ed25519PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    ClearOpenSslErrors();
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

std::string Ed25519PublicKey::Kid() const {
  // RFC 7638 §3: the required members only, lexicographic order, no whitespace.
  const std::string jwk =
      absl::StrCat(R"({"crv":"Ed25519","kty":"OKP","x":")", Base64UrlEncode(Raw()), R"("})");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(jwk.data(), jwk.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    ClearOpenSslErrors();
    return "";
  }
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

nlohmann::json Ed25519PublicKey::ToJwk(const std::string& kid) const {
  return nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(Raw())},
                        {"kid", kid},   {"use", "sig"},     {"alg", kEdDsaAlg}};
}

bool Ed25519PublicKey::Verify(std::string_view data, std::string_view signature) const {
  if (signature.size() != kSignatureSize) return false;
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  // Ed25519 hashes internally: the digest must be NULL (one-shot EVP_DigestVerify only).
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  ClearOpenSslErrors();
  return ok;
}

// ---- Ed25519PrivateKey ----

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  absl::StatusOr<std::shared_ptr<EVP_PKEY>> pkey =
      ReadEd25519Pem(pem, PEM_read_bio_PrivateKey, "private",
                     "not an unencrypted Ed25519 private key PEM (PKCS#8)");
  if (!pkey.ok()) return pkey.status();
  return Ed25519PrivateKey(*std::move(pkey));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPemFile(const std::string& path) {
  return FromPemFileOf<Ed25519PrivateKey>(path);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromRaw(std::string_view seed) {
  if (seed.size() != 32) return absl::InvalidArgumentError("an Ed25519 private key is 32 bytes");
  EVP_PKEY* p = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  ClearOpenSslErrors();
  if (p == nullptr) return absl::InvalidArgumentError("bad Ed25519 private key");
  return Ed25519PrivateKey(Share(p));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* p = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &p) != 1) {
    ClearOpenSslErrors();
    return absl::InternalError("Ed25519 key generation failed");
  }
  return Ed25519PrivateKey(Share(p));
}

Ed25519PublicKey Ed25519PrivateKey::PublicKey() const {
  // A key object of its own, so a verifier built from it never holds the private half.
  Ed25519PublicKey shared(pkey_);
  absl::StatusOr<Ed25519PublicKey> pure = Ed25519PublicKey::FromRaw(shared.Raw());
  return pure.ok() ? *std::move(pure) : shared;  // only allocation failure keeps `shared`
}

absl::StatusOr<std::string> Ed25519PrivateKey::Sign(std::string_view data) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(Ed25519PublicKey::kSignatureSize, '\0');
  size_t len = signature.size();
  const bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) == 1 &&
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
      len == signature.size();
  ClearOpenSslErrors();
  if (!ok) return absl::InternalError("Ed25519 signing failed");
  return signature;
}

}  // namespace tally
