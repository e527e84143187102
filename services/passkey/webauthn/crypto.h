#pragma once

// COSE public keys (RFC 9052/9053) and signature checks with OpenSSL 3 EVP.

#include <memory>
#include <string>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/util/openssl_ptr.h"
#include "services/passkey/webauthn/cbor.h"

namespace tally::webauthn {

// COSE algorithm identifiers we verify.
inline constexpr int kAlgES256 = -7;
inline constexpr int kAlgES384 = -35;
inline constexpr int kAlgES512 = -36;
inline constexpr int kAlgEdDSA = -8;
inline constexpr int kAlgRS256 = -257;

// Clears OpenSSL's per-thread error queue on the way out, whatever happened, so no entry is left
// behind to confuse the next caller on this thread.
struct OpenSslErrorGuard {
  ~OpenSslErrorGuard() { ERR_clear_error(); }
};

bool IsSupportedAlgorithm(int alg);
std::string AlgorithmName(int alg);

struct CosePublicKey {
  int alg = 0;
  int kty = 0;       // 1 OKP, 2 EC2, 3 RSA
  std::string x, y;  // EC2 coordinates (fido-u2f rebuilds the raw point from them)
  EvpPkeyPtr key;
};

// How much of a COSE key ParseCoseKey proves beyond its shape.
enum class KeyCheck {
  // A key from a registration: OpenSSL's full public key validation (EC: the point is on the
  // curve and of the group's order; RSA: the SP 800-56B checks, e.g. a composite modulus
  // without small factors). The RSA checks alone cost milliseconds.
  kFull,
  // A key that passed kFull when it was registered and comes back from our own store, for
  // every assertion: EC points are still decoded onto their curve (all our curves have
  // cofactor 1, so that also proves the order); the RSA validation is not repeated.
  kStored,
};

// Parses and checks a COSE_Key map: kty/alg/crv consistent and supported, EC2 point on its
// curve, OKP Ed25519 of 32 bytes, RSA modulus of 2048..8192 bits with an odd exponent, plus
// what `check` asks.
absl::StatusOr<CosePublicKey> ParseCoseKey(const cbor_item_t* map,
                                           KeyCheck check = KeyCheck::kFull);
// The same from the encoded key, which must be exactly one CBOR item.
absl::StatusOr<CosePublicKey> ParseCoseKey(absl::string_view encoded,
                                           KeyCheck check = KeyCheck::kFull);

// Verifies `signature` over `data` with `key` as COSE algorithm `alg` requires: ECDSA with the
// algorithm's SHA-2 and a DER signature, pure Ed25519, RSASSA-PKCS1-v1_5 with SHA-256.
// UNAUTHENTICATED when it does not verify.
absl::Status VerifySignature(int alg, EVP_PKEY* key, absl::string_view data,
                             absl::string_view signature);

// Whether `key` can be used with COSE algorithm `alg` (type and curve).
bool KeyMatchesAlgorithm(int alg, EVP_PKEY* key);

std::string Sha256(absl::string_view data);

// One DER certificate, nothing after it.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view der);

}  // namespace tally::webauthn
