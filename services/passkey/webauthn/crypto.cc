#include "services/passkey/webauthn/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "absl/strings/str_cat.h"

namespace tally::webauthn {
namespace {

absl::Status BadKey(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid credential public key: ", why));
}

// Builds a public key of `type` ("EC", "RSA") from `params`; nullptr on failure.
EvpPkeyPtr FromData(const char* type, OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) return nullptr;
  return EvpPkeyPtr(key);
}

bool PublicCheck(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx != nullptr && EVP_PKEY_public_check(ctx.get()) == 1;
}

// The EC point is on the curve and not at infinity, without the full check's multiplication by
// the group order (redundant for the prime-order NIST curves).
bool QuickPublicCheck(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx != nullptr && EVP_PKEY_public_check_quick(ctx.get()) == 1;
}

struct Curve {
  int crv;
  int alg;
  const char* name;
  size_t coordinate_bytes;
};
constexpr Curve kCurves[] = {
    {1, kAlgES256, "P-256", 32},
    {2, kAlgES384, "P-384", 48},
    {3, kAlgES512, "P-521", 66},
};

absl::StatusOr<EvpPkeyPtr> Ec2Key(const cbor_item_t* map, int alg, KeyCheck check,
                               std::string* x_out, std::string* y_out) {
  std::optional<int64_t> crv = CborInt(CborMapGet(map, -1));
  std::optional<std::string> x = CborBytes(CborMapGet(map, -2));
  // y may in principle be a bool (point compression); WebAuthn requires the uncompressed form.
  std::optional<std::string> y = CborBytes(CborMapGet(map, -3));
  if (!crv || !x || !y) return BadKey("EC2 key needs crv, x and y (uncompressed)");
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (c.crv == *crv) curve = &c;
  }
  if (curve == nullptr) return BadKey(absl::StrCat("unsupported EC2 curve ", *crv));
  if (curve->alg != alg) {
    return BadKey(absl::StrCat("curve ", curve->name, " does not go with ", AlgorithmName(alg)));
  }
  if (x->size() != curve->coordinate_bytes || y->size() != curve->coordinate_bytes) {
    return BadKey(absl::StrCat("coordinates of ", curve->name, " must be ",
                               curve->coordinate_bytes, " bytes"));
  }
  std::string point = absl::StrCat("\x04", *x, *y);
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->name, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return absl::InternalError("OpenSSL parameter building failed");
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyPtr key = FromData("EC", params.get());
  // fromdata decodes the point (refusing points off the curve); public_check makes sure.
  if (key == nullptr ||
      !(check == KeyCheck::kFull ? PublicCheck(key.get()) : QuickPublicCheck(key.get()))) {
    return BadKey("EC2 point is not on the curve");
  }
  *x_out = *std::move(x);
  *y_out = *std::move(y);
  return key;
}

absl::StatusOr<EvpPkeyPtr> OkpKey(const cbor_item_t* map) {
  std::optional<int64_t> crv = CborInt(CborMapGet(map, -1));
  std::optional<std::string> x = CborBytes(CborMapGet(map, -2));
  if (!crv || !x) return BadKey("OKP key needs crv and x");
  if (*crv != 6) return BadKey(absl::StrCat("unsupported OKP curve ", *crv, " (only Ed25519)"));
  if (x->size() != 32) return BadKey("Ed25519 public key must be 32 bytes");
  EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const uint8_t*>(x->data()), x->size()));
  if (key == nullptr) return BadKey("Ed25519 public key not accepted");
  return key;
}

absl::StatusOr<EvpPkeyPtr> RsaKey(const cbor_item_t* map, KeyCheck check) {
  std::optional<std::string> n = CborBytes(CborMapGet(map, -1));
  std::optional<std::string> e = CborBytes(CborMapGet(map, -2));
  if (!n || !e) return BadKey("RSA key needs n and e");
  if (n->empty() || (*n)[0] == 0) return BadKey("RSA modulus has leading zero bytes");
  const size_t bits = n->size() * 8;
  if (bits < 2048 || bits > 8192) return BadKey("RSA modulus must be 2048 to 8192 bits");
  if ((static_cast<uint8_t>(n->back()) & 1) == 0) return BadKey("RSA modulus must be odd");
  if (e->empty() || e->size() > 4 || (*e)[0] == 0) return BadKey("RSA exponent out of range");
  if ((static_cast<uint8_t>(e->back()) & 1) == 0) return BadKey("RSA exponent must be odd");
  BignumPtr bn_n(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(n->data()), n->size(), nullptr));
  BignumPtr bn_e(
      BN_bin2bn(reinterpret_cast<const uint8_t*>(e->data()), e->size(), nullptr));
  if (bn_n == nullptr || bn_e == nullptr || BN_is_one(bn_e.get())) {
    return BadKey("RSA exponent out of range");
  }
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return absl::InternalError("OpenSSL parameter building failed");
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyPtr key = FromData("RSA", params.get());
  if (key == nullptr) return BadKey("RSA key not accepted");
  // A stored key passed this check at registration; a primality test on every login would
  // cost milliseconds for nothing.
  if (check == KeyCheck::kFull && !PublicCheck(key.get())) return BadKey("RSA key not accepted");
  return key;
}

const EVP_MD* DigestFor(int alg) {
  switch (alg) {
    case kAlgES256:
    case kAlgRS256:
      return EVP_sha256();
    case kAlgES384:
      return EVP_sha384();
    case kAlgES512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

}  // namespace

bool IsSupportedAlgorithm(int alg) {
  return alg == kAlgES256 || alg == kAlgES384 || alg == kAlgES512 || alg == kAlgEdDSA ||
         alg == kAlgRS256;
}

std::string AlgorithmName(int alg) {
  switch (alg) {
    case kAlgES256: return "ES256";
    case kAlgES384: return "ES384";
    case kAlgES512: return "ES512";
    case kAlgEdDSA: return "EdDSA";
    case kAlgRS256: return "RS256";
    default: return absl::StrCat("COSE algorithm ", alg);
  }
}

absl::StatusOr<CosePublicKey> ParseCoseKey(const cbor_item_t* map, KeyCheck check) {
  if (map == nullptr || !cbor_isa_map(map)) return BadKey("not a COSE_Key map");
  std::optional<int64_t> kty = CborInt(CborMapGet(map, 1));
  std::optional<int64_t> alg = CborInt(CborMapGet(map, 3));
  if (!kty) return BadKey("kty missing");
  if (!alg) return BadKey("alg missing");
  if (*alg < INT32_MIN || *alg > INT32_MAX || !IsSupportedAlgorithm(static_cast<int>(*alg))) {
    return BadKey(absl::StrCat("unsupported algorithm ", *alg,
                               " (supported: ES256, ES384, ES512, EdDSA, RS256)"));
  }
  CosePublicKey out;
  out.alg = static_cast<int>(*alg);
  out.kty = static_cast<int>(*kty);
  absl::StatusOr<EvpPkeyPtr> key;
  if (*kty == 2 && (out.alg == kAlgES256 || out.alg == kAlgES384 || out.alg == kAlgES512)) {
    key = Ec2Key(map, out.alg, check, &out.x, &out.y);
  } else if (*kty == 1 && out.alg == kAlgEdDSA) {
    key = OkpKey(map);
  } else if (*kty == 3 && out.alg == kAlgRS256) {
    key = RsaKey(map, check);
  } else {
    return BadKey(absl::StrCat("key type ", *kty, " does not go with ", AlgorithmName(out.alg)));
  }
  if (!key.ok()) return key.status();
  out.key = *std::move(key);
  return out;
}

absl::StatusOr<CosePublicKey> ParseCoseKey(absl::string_view encoded, KeyCheck check) {
  absl::StatusOr<CborItem> item = DecodeCbor(encoded);
  if (!item.ok()) return BadKey(item.status().message());
  return ParseCoseKey(item->get(), check);
}

bool KeyMatchesAlgorithm(int alg, EVP_PKEY* key) {
  switch (alg) {
    case kAlgEdDSA:
      return EVP_PKEY_is_a(key, "ED25519");
    case kAlgRS256:
      return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
    case kAlgES256:
    case kAlgES384:
    case kAlgES512: {
      if (!EVP_PKEY_is_a(key, "EC")) return false;
      char group[64] = {0};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &len) != 1) {
        return false;
      }
      for (const Curve& c : kCurves) {
        if (c.alg == alg) {
          return absl::string_view(group) == c.name ||
                 (c.alg == kAlgES256 && absl::string_view(group) == "prime256v1") ||
                 (c.alg == kAlgES384 && absl::string_view(group) == "secp384r1") ||
                 (c.alg == kAlgES512 && absl::string_view(group) == "secp521r1");
        }
      }
      return false;
    }
    default:
      return false;
  }
}

absl::Status VerifySignature(int alg, EVP_PKEY* key, absl::string_view data,
                             absl::string_view signature) {
  if (!KeyMatchesAlgorithm(alg, key)) {
    return absl::UnauthenticatedError(
        absl::StrCat("signature algorithm ", AlgorithmName(alg), " does not match the key"));
  }
  if (alg == kAlgEdDSA && signature.size() != 64) {
    return absl::UnauthenticatedError("signature does not verify (Ed25519 needs 64 bytes)");
  }
  if (alg == kAlgRS256 && signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
    return absl::UnauthenticatedError("signature does not verify (wrong RSA signature length)");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, DigestFor(alg), nullptr, key) != 1) {
    return absl::InternalError("OpenSSL verify initialisation failed");
  }
  if (alg == kAlgRS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("OpenSSL RSA padding setup failed");
  }
  // ECDSA: OpenSSL re-encodes the parsed signature and refuses anything but strict DER.
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const uint8_t*>(signature.data()),
                                  signature.size(),
                                  reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (ok != 1) return absl::UnauthenticatedError("signature does not verify");
  return absl::OkStatus();
}

std::string Sha256(absl::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(),
         reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view der) {
  const auto* p = reinterpret_cast<const uint8_t*>(der.data());
  const uint8_t* const end = p + der.size();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr || p != end) {
    return absl::InvalidArgumentError("attestation certificate is not one DER X.509 certificate");
  }
  return cert;
}

}  // namespace tally::webauthn
