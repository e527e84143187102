#include "services/passkey/testing/soft_authenticator.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tally::webauthn::testing {
namespace {

using json = nlohmann::json;

std::string Sha256(absl::string_view data) {
  std::string out(32, '\0');
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(),
         reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(n));
  return out;
}

std::string BnBytes(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("bn param");
  std::string out(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<uint8_t*>(out.data()));
  BN_free(bn);
  return out;
}

std::string Unb64(const std::string& s) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(s, &out)) throw std::runtime_error("bad base64url");
  return out;
}

std::string SignWith(EVP_PKEY* key, const EVP_MD* md, absl::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, md, nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(data.data()),
                     data.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<uint8_t*>(sig.data()), &len,
                       reinterpret_cast<const uint8_t*>(data.data()), data.size()) != 1) {
      sig.clear();
    }
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty()) throw std::runtime_error("signing failed");
  return sig;
}

}  // namespace

std::string CborHead(int major, uint64_t value) {
  std::string out;
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (value < 24) {
    out.push_back(static_cast<char>(m | value));
  } else if (value <= 0xff) {
    out.push_back(static_cast<char>(m | 24));
    out.push_back(static_cast<char>(value));
  } else if (value <= 0xffff) {
    out.push_back(static_cast<char>(m | 25));
    for (int i = 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
  } else if (value <= 0xffffffffu) {
    out.push_back(static_cast<char>(m | 26));
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
  } else {
    out.push_back(static_cast<char>(m | 27));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
  }
  return out;
}
std::string CborUint(uint64_t v) { return CborHead(0, v); }
std::string CborInt(int64_t v) {
  return v >= 0 ? CborHead(0, static_cast<uint64_t>(v)) : CborHead(1, static_cast<uint64_t>(-1 - v));
}
std::string CborBytes(absl::string_view b) { return absl::StrCat(CborHead(2, b.size()), b); }
std::string CborText(absl::string_view t) { return absl::StrCat(CborHead(3, t.size()), t); }

std::string B64(absl::string_view data) { return absl::WebSafeBase64Escape(data); }

SoftAuthenticator::SoftAuthenticator(Alg alg) : alg_(alg) {
  switch (alg) {
    case Alg::kES256: key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case Alg::kEdDSA: key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Alg::kRS256: key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
  }
  if (key_ == nullptr) throw std::runtime_error("key generation failed");
  credential_id_ = RandomBytes(32);
}

SoftAuthenticator::~SoftAuthenticator() { EVP_PKEY_free(key_); }

int SoftAuthenticator::cose_alg() const {
  switch (alg_) {
    case Alg::kES256: return -7;
    case Alg::kEdDSA: return -8;
    case Alg::kRS256: return -257;
  }
  return 0;
}

std::string SoftAuthenticator::CosePublicKey() const {
  switch (alg_) {
    case Alg::kES256: {
      uint8_t point[65];
      size_t len = 0;
      EVP_PKEY_get_octet_string_param(key_, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len);
      if (len != 65) throw std::runtime_error("EC point");
      auto p = reinterpret_cast<const char*>(point);
      return absl::StrCat(CborHead(5, 5), CborInt(1), CborInt(2), CborInt(3), CborInt(-7),
                          CborInt(-1), CborInt(1), CborInt(-2), CborBytes({p + 1, 32}),
                          CborInt(-3), CborBytes({p + 33, 32}));
    }
    case Alg::kEdDSA: {
      uint8_t raw[32];
      size_t len = sizeof(raw);
      EVP_PKEY_get_raw_public_key(key_, raw, &len);
      return absl::StrCat(CborHead(5, 4), CborInt(1), CborInt(1), CborInt(3), CborInt(-8),
                          CborInt(-1), CborInt(6), CborInt(-2),
                          CborBytes({reinterpret_cast<const char*>(raw), len}));
    }
    case Alg::kRS256:
      return absl::StrCat(CborHead(5, 4), CborInt(1), CborInt(3), CborInt(3), CborInt(-257),
                          CborInt(-1), CborBytes(BnBytes(key_, OSSL_PKEY_PARAM_RSA_N)),
                          CborInt(-2), CborBytes(BnBytes(key_, OSSL_PKEY_PARAM_RSA_E)));
  }
  return "";
}

std::string SoftAuthenticator::Sign(absl::string_view data) const {
  return SignWith(key_, alg_ == Alg::kEdDSA ? nullptr : EVP_sha256(), data);
}

std::string SoftAuthenticator::ClientDataJson(const Ceremony& c,
                                              absl::string_view default_type) const {
  // Member order as browsers write it; the verifier must not depend on it.
  return absl::StrCat(R"({"type":")", c.type.empty() ? default_type : c.type,
                      R"(","challenge":")", B64(c.challenge), R"(","origin":")", c.origin,
                      R"(","crossOrigin":)", c.cross_origin ? "true" : "false", "}");
}

uint8_t SoftAuthenticator::Flags(const Ceremony& c, bool attested) const {
  uint8_t flags = 0x01;
  if (c.user_verified) flags |= 0x04;
  if (c.backup_eligible) flags |= 0x08;
  if (c.backup_state) flags |= 0x10;
  if (attested) flags |= 0x40;
  return flags;
}

std::string SoftAuthenticator::Register(const Ceremony& c, const std::string& user_handle,
                                        absl::string_view attestation) {
  user_handle_ = user_handle;
  const std::string client_data = ClientDataJson(c, "webauthn.create");
  const std::string& aaguid = aaguid_;
  std::string count(4, '\0');
  for (int i = 0; i < 4; ++i) count[i] = static_cast<char>(counter_ >> (8 * (3 - i)));
  const std::string auth_data = absl::StrCat(
      Sha256(c.rp_id), std::string(1, static_cast<char>(Flags(c, true))), count, aaguid,
      std::string{static_cast<char>(credential_id_.size() >> 8),
                  static_cast<char>(credential_id_.size() & 0xff)},
      credential_id_, CosePublicKey());
  std::string att_stmt;
  if (attestation == "packed" && attestation_key_ != nullptr) {
    att_stmt = absl::StrCat(CborHead(5, 3), CborText("alg"), CborInt(-7), CborText("sig"),
                            CborBytes(SignWith(attestation_key_->key.get(), EVP_sha256(),
                                               absl::StrCat(auth_data, Sha256(client_data)))),
                            CborText("x5c"), CborHead(4, attestation_key_->x5c.size()));
    for (const std::string& der : attestation_key_->x5c) att_stmt += CborBytes(der);
  } else if (attestation == "packed") {
    att_stmt = absl::StrCat(CborHead(5, 2), CborText("alg"), CborInt(cose_alg()), CborText("sig"),
                            CborBytes(Sign(absl::StrCat(auth_data, Sha256(client_data)))));
  } else {
    att_stmt = CborHead(5, 0);
  }
  const std::string attestation_object =
      absl::StrCat(CborHead(5, 3), CborText("fmt"), CborText(attestation), CborText("attStmt"),
                   att_stmt, CborText("authData"), CborBytes(auth_data));
  json out = {
      {"id", B64(credential_id_)},
      {"rawId", B64(credential_id_)},
      {"type", "public-key"},
      {"authenticatorAttachment", "platform"},
      {"clientExtensionResults", json::object()},
      {"response",
       {{"clientDataJSON", B64(client_data)},
        {"attestationObject", B64(attestation_object)},
        {"transports", {"internal", "hybrid"}},
        {"publicKeyAlgorithm", cose_alg()},
        {"authenticatorData", B64(auth_data)}}},
  };
  return out.dump();
}

std::string SoftAuthenticator::Assert(const Ceremony& c, bool include_user_handle) {
  ++counter_;
  const std::string client_data = ClientDataJson(c, "webauthn.get");
  std::string count(4, '\0');
  for (int i = 0; i < 4; ++i) count[i] = static_cast<char>(counter_ >> (8 * (3 - i)));
  const std::string auth_data = absl::StrCat(
      Sha256(c.rp_id), std::string(1, static_cast<char>(Flags(c, false))), count);
  const std::string signature = Sign(absl::StrCat(auth_data, Sha256(client_data)));
  json response = {{"clientDataJSON", B64(client_data)},
                   {"authenticatorData", B64(auth_data)},
                   {"signature", B64(signature)}};
  if (include_user_handle && !user_handle_.empty()) response["userHandle"] = B64(user_handle_);
  json out = {{"id", B64(credential_id_)},
              {"rawId", B64(credential_id_)},
              {"type", "public-key"},
              {"authenticatorAttachment", "platform"},
              {"clientExtensionResults", json::object()},
              {"response", response}};
  return out.dump();
}

std::string SoftAuthenticator::RegisterFromOptions(absl::string_view creation_options_json,
                                                   const std::string& origin,
                                                   absl::string_view attestation) {
  json options = json::parse(creation_options_json);
  Ceremony c;
  c.rp_id = options["rp"]["id"].get<std::string>();
  c.origin = origin;
  c.user_verified = verifies_user_;
  c.challenge = Unb64(options["challenge"].get<std::string>());
  return Register(c, Unb64(options["user"]["id"].get<std::string>()), attestation);
}

std::string SoftAuthenticator::AssertFromOptions(absl::string_view request_options_json,
                                                 const std::string& origin) {
  json options = json::parse(request_options_json);
  Ceremony c;
  c.rp_id = options["rpId"].get<std::string>();
  c.origin = origin;
  c.user_verified = verifies_user_;
  c.challenge = Unb64(options["challenge"].get<std::string>());
  return Assert(c);
}

}  // namespace tally::webauthn::testing
