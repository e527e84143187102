#pragma once

// Ed25519 keys (RFC 8032) as session tokens use them: loaded from PEM or raw bytes, named by
// their RFC 7638 thumbprint, published as RFC 8037 JWKs.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

// OpenSSL's key type, kept opaque so users of this header need no OpenSSL includes.
typedef struct evp_pkey_st EVP_PKEY;

namespace tally {

// The JOSE "alg" of Ed25519 signatures (RFC 8037).
inline constexpr std::string_view kEdDsaAlg = "EdDSA";

// An Ed25519 public key. Cheap to copy (shares one immutable EVP_PKEY) and safe to use from
// many threads at once.
class Ed25519PublicKey {
 public:
  static constexpr size_t kRawSize = 32;
  static constexpr size_t kSignatureSize = 64;

  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
  static absl::StatusOr<Ed25519PublicKey> FromPem(std::string_view pem);
  // The same from a file: NOT_FOUND when it cannot be read, INVALID_ARGUMENT naming the path
  // when it holds no such key.
  static absl::StatusOr<Ed25519PublicKey> FromPemFile(const std::string& path);
  // The 32-byte public key of RFC 8032 (the JWK's "x" after base64url decoding).
  static absl::StatusOr<Ed25519PublicKey> FromRaw(std::string_view raw);

  std::string Raw() const;
  std::string ToPem() const;
  // RFC 7638 JWK thumbprint: base64url(SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"..."}).
  std::string Kid() const;
  // The public JWK (RFC 8037) of this signing key under `kid`: kty OKP, crv Ed25519, x, kid,
  // use sig, alg EdDSA.
  nlohmann::json ToJwk(const std::string& kid) const;
  // True when `signature` is a valid Ed25519 signature of `data` (RFC 8032, no pre-hash).
  bool Verify(std::string_view data, std::string_view signature) const;

 private:
  friend class Ed25519PrivateKey;
  explicit Ed25519PublicKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

// An Ed25519 private key. Never printed, never part of an error message.
class Ed25519PrivateKey {
 public:
  // Unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), as `openssl genpkey -algorithm
  // ed25519` writes it.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);
  // The same from a file (our copy of its text is scrubbed): NOT_FOUND when it cannot be read,
  // INVALID_ARGUMENT naming the path when it holds no such key.
  static absl::StatusOr<Ed25519PrivateKey> FromPemFile(const std::string& path);
  // The 32-byte seed of RFC 8032 (the JWK's "d" after base64url decoding).
  static absl::StatusOr<Ed25519PrivateKey> FromRaw(std::string_view seed);
  // A fresh key from OpenSSL's CSPRNG (ephemeral keys for tests and local runs).
  static absl::StatusOr<Ed25519PrivateKey> Generate();

  Ed25519PublicKey PublicKey() const;
  // The 64-byte Ed25519 signature of `data`.
  absl::StatusOr<std::string> Sign(std::string_view data) const;

 private:
  explicit Ed25519PrivateKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

}  // namespace tally
