#include "services/passkey/webauthn/webauthn.h"

#include <algorithm>
#include <set>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/util/text.h"
#include "services/passkey/webauthn/cbor.h"
#include "services/passkey/webauthn/crypto.h"

namespace tally::webauthn {
namespace {

using json = nlohmann::json;

constexpr char kReasonPayload[] = "type.tally.dev/webauthn.reason";
// id-fido-gen-ce-aaguid: the AAGUID in an attestation certificate.
constexpr char kAaguidExtensionOid[] = "1.3.6.1.4.1.45724.1.1.4";

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

absl::Status Malformed(absl::string_view message) {
  return WithReason(absl::InvalidArgumentError(message), reason::kMalformed);
}

absl::Status Refused(absl::string_view reason, absl::string_view message) {
  return WithReason(absl::UnauthenticatedError(message), reason);
}

// Keeps a status's code and message, and gives it `reason` unless it has one.
absl::Status Tagged(absl::Status status, absl::string_view reason) {
  if (status.GetPayload(kReasonPayload).has_value()) return status;
  return WithReason(std::move(status), reason);
}

// A value from the client quoted in an error: only when short and printable.
std::string Quote(absl::string_view value) {
  if (value.size() > 200 || HasControlCharacters(std::string_view(value.data(), value.size()))) {
    return "(unprintable)";
  }
  return absl::StrCat("\"", value, "\"");
}

// Clears OpenSSL's per-thread error queue on the way out, whatever happened.
struct OpenSslErrorGuard {
  ~OpenSslErrorGuard() { ERR_clear_error(); }
};

absl::StatusOr<std::string> DecodeField(const json& object, const char* field, bool required,
                                        bool* present = nullptr) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    if (present != nullptr) *present = false;
    if (required) return Malformed(absl::StrCat("missing field ", field));
    return std::string();
  }
  if (!it->is_string()) return Malformed(absl::StrCat(field, " must be a base64url string"));
  const std::string& text = it->get_ref<const std::string&>();
  std::string out;
  if (text.find('=') != std::string::npos ||
      !Base64UrlDecode(std::string_view(text), &out)) {
    return Malformed(absl::StrCat(field, " is not base64url (no padding)"));
  }
  if (present != nullptr) *present = true;
  return out;
}

struct CredentialEnvelope {
  std::string raw_id;
  const json* response = nullptr;
};

// id, rawId, type and the response object shared by both ceremonies.
absl::StatusOr<CredentialEnvelope> ParseEnvelope(const json& credential) {
  if (!credential.is_object()) return Malformed("the response must be a JSON object");
  auto type = credential.find("type");
  if (type == credential.end() || !type->is_string() ||
      type->get_ref<const std::string&>() != "public-key") {
    return Malformed("type must be \"public-key\"");
  }
  absl::StatusOr<std::string> id = DecodeField(credential, "id", true);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> raw_id = DecodeField(credential, "rawId", true);
  if (!raw_id.ok()) return raw_id.status();
  if (*id != *raw_id) return Malformed("id and rawId differ");
  if (raw_id->empty() || raw_id->size() > kMaxCredentialIdBytes) {
    return Malformed("credential id must be 1 to 1023 bytes");
  }
  auto response = credential.find("response");
  if (response == credential.end() || !response->is_object()) {
    return Malformed("missing response object");
  }
  auto extensions = credential.find("clientExtensionResults");
  if (extensions != credential.end() && !extensions->is_object()) {
    return Malformed("clientExtensionResults must be an object");
  }
  return CredentialEnvelope{*std::move(raw_id), &*response};
}

absl::StatusOr<json> ParseResponseJson(absl::string_view text) {
  if (text.size() > kMaxResponseJsonBytes) return Malformed("response JSON is too large");
  absl::StatusOr<json> parsed = ParseStrictJson(text);
  if (!parsed.ok()) return Malformed(absl::StrCat("response is not valid JSON: ",
                                                  parsed.status().message()));
  return parsed;
}

// §7.1 steps 5-12 / §7.2 steps 9-14: the client data, parsed as JSON.
absl::Status CheckClientData(absl::string_view client_data_json, absl::string_view type,
                             absl::string_view challenge, const RelyingParty& rp) {
  absl::StatusOr<json> parsed = ParseStrictJson(client_data_json);
  if (!parsed.ok()) {
    return Malformed(absl::StrCat("clientDataJSON is not valid JSON: ", parsed.status().message()));
  }
  const json& c = *parsed;
  if (!c.is_object()) return Malformed("clientDataJSON must be a JSON object");
  auto get_string = [&](const char* name) -> const std::string* {
    auto it = c.find(name);
    return it != c.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string* c_type = get_string("type");
  if (c_type == nullptr) return Malformed("clientDataJSON.type missing");
  if (*c_type != type) {
    return Refused(reason::kType, absl::StrCat("clientDataJSON.type is ", Quote(*c_type),
                                               ", expected \"", type, "\""));
  }
  const std::string* c_challenge = get_string("challenge");
  if (c_challenge == nullptr) return Malformed("clientDataJSON.challenge missing");
  std::string decoded;
  if (c_challenge->find('=') != std::string::npos ||
      !Base64UrlDecode(std::string_view(*c_challenge), &decoded) ||
      !ConstantTimeEquals(decoded, std::string_view(challenge.data(), challenge.size()))) {
    return Refused(reason::kChallenge, "clientDataJSON.challenge is not the challenge issued");
  }
  const std::string* origin = get_string("origin");
  if (origin == nullptr) return Malformed("clientDataJSON.origin missing");
  if (std::find(rp.origins.begin(), rp.origins.end(), *origin) == rp.origins.end()) {
    return Refused(reason::kOrigin,
                   absl::StrCat("origin ", Quote(*origin), " is not an allowed origin (",
                                absl::StrJoin(rp.origins, ", "), ")"));
  }
  if (auto it = c.find("crossOrigin"); it != c.end() && !it->is_null()) {
    if (!it->is_boolean()) return Malformed("clientDataJSON.crossOrigin must be a boolean");
    if (it->get<bool>() && !rp.allow_cross_origin) {
      return Refused(reason::kCrossOrigin, "cross-origin use (crossOrigin: true) is not allowed");
    }
  }
  if (auto it = c.find("topOrigin"); it != c.end() && !it->is_null()) {
    if (!it->is_string()) return Malformed("clientDataJSON.topOrigin must be a string");
    const std::string& top = it->get_ref<const std::string&>();
    if (!rp.allow_cross_origin) {
      return Refused(reason::kCrossOrigin, "topOrigin present but cross-origin use is not allowed");
    }
    if (std::find(rp.top_origins.begin(), rp.top_origins.end(), top) == rp.top_origins.end()) {
      return Refused(reason::kCrossOrigin,
                     absl::StrCat("topOrigin ", Quote(top), " is not an allowed top origin"));
    }
  }
  // Token binding (Level 2; Level 3 dropped it): a TokenBinding object must say "present" or
  // "supported". Browsers no longer send it; other shapes carry nothing to check.
  if (auto it = c.find("tokenBinding"); it != c.end() && it->is_object()) {
    auto status = it->find("status");
    if (status == it->end() || !status->is_string() ||
        (status->get_ref<const std::string&>() != "present" &&
         status->get_ref<const std::string&>() != "supported")) {
      return Refused(reason::kTokenBinding, "unexpected tokenBinding status");
    }
  }
  return absl::OkStatus();
}

// The flag and RP ID checks both ceremonies share.
absl::Status CheckAuthenticatorData(const AuthenticatorData& data, const RelyingParty& rp) {
  if (!ConstantTimeEquals(data.rp_id_hash, Sha256(rp.rp_id))) {
    return Refused(reason::kRpId,
                   absl::StrCat("rpIdHash is not the SHA-256 of the RP ID \"", rp.rp_id, "\""));
  }
  if ((data.flags & kFlagUP) == 0) {
    return Refused(reason::kUserPresence, "user presence (UP flag) is required");
  }
  if (rp.require_user_verification && (data.flags & kFlagUV) == 0) {
    return Refused(reason::kUserVerification,
                   "user verification is required but the UV flag is not set");
  }
  if ((data.flags & kFlagBS) != 0 && (data.flags & kFlagBE) == 0) {
    return Refused(reason::kBackupFlags, "BS flag set without BE: invalid backup flags");
  }
  return absl::OkStatus();
}

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
  ASN1_OBJECT* oid = OBJ_txt2obj(kAaguidExtensionOid, 1);
  const int index = X509_get_ext_by_OBJ(cert, oid, -1);
  ASN1_OBJECT_free(oid);
  if (index >= 0) {
    X509_EXTENSION* ext = X509_get_ext(cert, index);
    if (X509_EXTENSION_get_critical(ext)) {
      return Refused(reason::kAttestation, "the AAGUID extension must not be critical");
    }
    ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(outer);
    const unsigned char* end = p + ASN1_STRING_length(outer);
    ASN1_OCTET_STRING* inner = d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(outer));
    bool match = inner != nullptr && p == end && ASN1_STRING_length(inner) == 16 &&
                 absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner)),
                                   16) == aaguid;
    ASN1_OCTET_STRING_free(inner);
    if (!match) {
      return Refused(reason::kAttestation,
                     "the certificate's AAGUID extension does not match the authenticator data");
    }
  }
  return absl::OkStatus();
}

struct AttestationResult {
  std::string type;
};

absl::StatusOr<AttestationResult> VerifyAttestation(absl::string_view fmt,
                                                    const cbor_item_t* att_stmt,
                                                    absl::string_view auth_data_bytes,
                                                    const AuthenticatorData& auth_data,
                                                    const CosePublicKey& credential_key,
                                                    absl::string_view client_data_hash,
                                                    const RegistrationExpectation& expect) {
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
    if (expect.trust_anchors != nullptr) {
      if (absl::Status s = expect.trust_anchors->Verify(chain); !s.ok()) {
        return Refused(reason::kAttestation, s.message());
      }
    }
    return AttestationResult{"basic"};
  }
  if (fmt == "fido-u2f") {
    std::optional<std::string> sig = CborBytes(CborMapGet(att_stmt, "sig"));
    if (!sig) return Malformed("fido-u2f attStmt needs sig");
    absl::Status status;
    std::vector<std::string> chain = CertChain(CborMapGet(att_stmt, "x5c"), &status);
    if (!status.ok()) return status;
    if (chain.size() != 1) return Malformed("fido-u2f attStmt.x5c must hold exactly one certificate");
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
    if (expect.trust_anchors != nullptr) {
      if (absl::Status s = expect.trust_anchors->Verify(chain); !s.ok()) {
        return Refused(reason::kAttestation, s.message());
      }
    }
    return AttestationResult{"basic"};
  }
  return Refused(reason::kAttestation,
                 absl::StrCat("attestation format ", Quote(fmt),
                              " is not supported (supported: none, packed, fido-u2f)"));
}

std::vector<std::string> Transports(const json& credential, const json& response) {
  std::vector<std::string> out;
  for (const json* holder : {&response, &credential}) {
    auto it = holder->find("transports");
    if (it == holder->end() || !it->is_array()) continue;
    for (const json& t : *it) {
      if (!t.is_string()) continue;
      const std::string& s = t.get_ref<const std::string&>();
      // Short printable tokens only ("usb", "nfc", "ble", "internal", "hybrid", ...).
      if (s.empty() || s.size() > 32 || !IsValidId(std::string_view(s))) continue;
      if (std::find(out.begin(), out.end(), s) == out.end() && out.size() < 8) out.push_back(s);
    }
    if (!out.empty()) break;
  }
  return out;
}

}  // namespace

std::string ReasonOf(const absl::Status& status) {
  if (auto r = status.GetPayload(kReasonPayload); r.has_value()) return std::string(*r);
  if (status.code() == absl::StatusCode::kInvalidArgument) return reason::kMalformed;
  return "other";
}

absl::StatusOr<json> ParseStrictJson(absl::string_view text, int max_depth) {
  bool duplicate = false;
  bool too_deep = false;
  std::vector<std::optional<std::set<std::string>>> scopes;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > max_depth) too_deep = true;
    switch (event) {
      case json::parse_event_t::object_start:
        scopes.emplace_back(std::set<std::string>());
        break;
      case json::parse_event_t::array_start:
        scopes.emplace_back(std::nullopt);
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!scopes.empty()) scopes.pop_back();
        break;
      case json::parse_event_t::key:
        if (!scopes.empty() && scopes.back().has_value() && parsed.is_string() &&
            !scopes.back()->insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return !too_deep;
  };
  json out = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (too_deep) return absl::InvalidArgumentError("nested too deeply");
  if (out.is_discarded()) return absl::InvalidArgumentError("syntax error");
  if (duplicate) return absl::InvalidArgumentError("duplicate object key");
  return out;
}

absl::StatusOr<AuthenticatorData> ParseAuthenticatorData(absl::string_view data) {
  if (data.size() < 37) return Malformed("authenticator data is shorter than 37 bytes");
  AuthenticatorData out;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  out.rp_id_hash = std::string(data.substr(0, 32));
  out.flags = p[32];
  out.sign_count = (uint32_t{p[33]} << 24) | (uint32_t{p[34]} << 16) | (uint32_t{p[35]} << 8) |
                   uint32_t{p[36]};
  size_t pos = 37;
  if (out.flags & kFlagAT) {
    if (data.size() - pos < 18) return Malformed("attested credential data is truncated");
    out.aaguid = std::string(data.substr(pos, 16));
    const size_t id_len = (size_t{p[pos + 16]} << 8) | p[pos + 17];
    pos += 18;
    if (id_len == 0 || id_len > kMaxCredentialIdBytes) {
      return Malformed("credential id must be 1 to 1023 bytes");
    }
    if (data.size() - pos < id_len) return Malformed("credential id is truncated");
    out.credential_id = std::string(data.substr(pos, id_len));
    pos += id_len;
    size_t consumed = 0;
    absl::StatusOr<CborItem> key = DecodeCborPrefix(data.substr(pos), &consumed);
    if (!key.ok()) {
      return Malformed(absl::StrCat("credential public key: ", key.status().message()));
    }
    out.credential_public_key = std::string(data.substr(pos, consumed));
    pos += consumed;
  }
  if (out.flags & kFlagED) {
    size_t consumed = 0;
    absl::StatusOr<CborItem> extensions = DecodeCborPrefix(data.substr(pos), &consumed);
    if (!extensions.ok()) {
      return Malformed(absl::StrCat("extensions: ", extensions.status().message()));
    }
    if (!cbor_isa_map(extensions->get())) return Malformed("extensions must be a CBOR map");
    out.extensions = std::string(data.substr(pos, consumed));
    pos += consumed;
  }
  if (pos != data.size()) return Malformed("trailing bytes after the authenticator data");
  return out;
}

struct TrustAnchors::Store {
  X509_STORE* store = nullptr;
  ~Store() { X509_STORE_free(store); }
};

TrustAnchors::TrustAnchors(std::unique_ptr<Store> store) : store_(std::move(store)) {}
TrustAnchors::~TrustAnchors() = default;

absl::StatusOr<std::shared_ptr<const TrustAnchors>> TrustAnchors::FromPem(absl::string_view pem) {
  OpenSslErrorGuard guard;
  auto store = std::make_unique<Store>();
  store->store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (store->store == nullptr || bio == nullptr) {
    BIO_free(bio);
    return absl::InternalError("OpenSSL allocation failed");
  }
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store->store, cert);
    X509_free(cert);
    if (ok != 1) {
      BIO_free(bio);
      return absl::InvalidArgumentError("a CA certificate could not be added");
    }
    ++count;
  }
  BIO_free(bio);
  if (count == 0) return absl::InvalidArgumentError("no PEM certificate in the CA bundle");
  return std::shared_ptr<const TrustAnchors>(new TrustAnchors(std::move(store)));
}

absl::Status TrustAnchors::Verify(const std::vector<std::string>& chain) const {
  OpenSslErrorGuard guard;
  if (chain.empty()) return absl::UnauthenticatedError("no attestation certificate");
  std::vector<X509Ptr> certs;
  for (const std::string& der : chain) {
    absl::StatusOr<X509Ptr> cert = ParseCertificate(der);
    if (!cert.ok()) return cert.status();
    certs.push_back(*std::move(cert));
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < certs.size(); ++i) sk_X509_push(untrusted, certs[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  int ok = ctx != nullptr && X509_STORE_CTX_init(ctx, store_->store, certs[0].get(), untrusted) == 1
               ? X509_verify_cert(ctx)
               : 0;
  std::string why = ok == 1 || ctx == nullptr
                        ? ""
                        : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  if (ok != 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("attestation certificate chain does not lead to a trusted CA: ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<RegisteredCredential> VerifyRegistration(absl::string_view response_json,
                                                        const RegistrationExpectation& expect) {
  OpenSslErrorGuard guard;
  absl::StatusOr<json> credential = ParseResponseJson(response_json);
  if (!credential.ok()) return credential.status();
  absl::StatusOr<CredentialEnvelope> envelope = ParseEnvelope(*credential);
  if (!envelope.ok()) return envelope.status();
  const json& response = *envelope->response;
  absl::StatusOr<std::string> client_data_json = DecodeField(response, "clientDataJSON", true);
  if (!client_data_json.ok()) return client_data_json.status();
  absl::StatusOr<std::string> attestation_object = DecodeField(response, "attestationObject", true);
  if (!attestation_object.ok()) return attestation_object.status();

  if (absl::Status s = CheckClientData(*client_data_json, "webauthn.create", expect.challenge,
                                       expect.rp);
      !s.ok()) {
    return s;
  }
  const std::string client_data_hash = Sha256(*client_data_json);

  absl::StatusOr<CborItem> att = DecodeCbor(*attestation_object);
  if (!att.ok()) return Malformed(absl::StrCat("attestationObject: ", att.status().message()));
  std::optional<std::string> fmt = CborText(CborMapGet(att->get(), "fmt"));
  const cbor_item_t* att_stmt = CborMapGet(att->get(), "attStmt");
  std::optional<std::string> auth_data_bytes = CborBytes(CborMapGet(att->get(), "authData"));
  if (!cbor_isa_map(att->get()) || !fmt || att_stmt == nullptr || !auth_data_bytes) {
    return Malformed("attestationObject must be a map with fmt, attStmt and authData");
  }
  absl::StatusOr<AuthenticatorData> auth_data = ParseAuthenticatorData(*auth_data_bytes);
  if (!auth_data.ok()) return auth_data.status();
  if (absl::Status s = CheckAuthenticatorData(*auth_data, expect.rp); !s.ok()) return s;
  if ((auth_data->flags & kFlagAT) == 0) {
    return Malformed("authenticator data has no attested credential data (AT flag)");
  }
  absl::StatusOr<CosePublicKey> key = ParseCoseKey(auth_data->credential_public_key);
  if (!key.ok()) return Tagged(key.status(), reason::kAlgorithm);
  const bool offered =
      expect.algorithms.empty()
          ? true
          : std::find(expect.algorithms.begin(), expect.algorithms.end(), key->alg) !=
                expect.algorithms.end();
  if (!offered) {
    return Refused(reason::kAlgorithm, absl::StrCat("algorithm ", AlgorithmName(key->alg),
                                                    " was not offered in pubKeyCredParams"));
  }
  if (auth_data->credential_id != envelope->raw_id) {
    return Refused(reason::kCredential,
                   "the credential id in the authenticator data differs from rawId");
  }
  absl::StatusOr<AttestationResult> attestation =
      VerifyAttestation(*fmt, att_stmt, *auth_data_bytes, *auth_data, *key, client_data_hash,
                        expect);
  if (!attestation.ok()) return Tagged(attestation.status(), reason::kAttestation);

  RegisteredCredential out;
  out.credential_id = auth_data->credential_id;
  out.public_key_cose = auth_data->credential_public_key;
  out.algorithm = key->alg;
  out.sign_count = auth_data->sign_count;
  out.aaguid = auth_data->aaguid;
  out.user_verified = (auth_data->flags & kFlagUV) != 0;
  out.backup_eligible = (auth_data->flags & kFlagBE) != 0;
  out.backup_state = (auth_data->flags & kFlagBS) != 0;
  out.transports = Transports(*credential, response);
  out.format = *fmt;
  out.attestation_type = attestation->type;
  return out;
}

absl::StatusOr<AssertionResponse> ParseAssertionResponse(absl::string_view response_json) {
  absl::StatusOr<json> credential = ParseResponseJson(response_json);
  if (!credential.ok()) return credential.status();
  absl::StatusOr<CredentialEnvelope> envelope = ParseEnvelope(*credential);
  if (!envelope.ok()) return envelope.status();
  const json& response = *envelope->response;
  AssertionResponse out;
  out.credential_id = envelope->raw_id;
  for (auto [field, target] : {std::pair{"clientDataJSON", &out.client_data_json},
                               std::pair{"authenticatorData", &out.authenticator_data},
                               std::pair{"signature", &out.signature}}) {
    absl::StatusOr<std::string> value = DecodeField(response, field, true);
    if (!value.ok()) return value.status();
    *target = *std::move(value);
  }
  bool present = false;
  absl::StatusOr<std::string> user_handle = DecodeField(response, "userHandle", false, &present);
  if (!user_handle.ok()) return user_handle.status();
  if (present && !user_handle->empty()) {
    if (user_handle->size() > 64) return Malformed("userHandle is longer than 64 bytes");
    out.user_handle = *std::move(user_handle);
  }
  return out;
}

absl::StatusOr<VerifiedAssertion> VerifyAssertion(const AssertionResponse& response,
                                                  const AuthenticationExpectation& expect,
                                                  const StoredCredential& credential) {
  OpenSslErrorGuard guard;
  // The stored key passed the full check when it was registered.
  absl::StatusOr<CosePublicKey> key = ParseCoseKey(credential.public_key_cose, KeyCheck::kStored);
  if (!key.ok()) return Tagged(key.status(), reason::kCredential);
  if (absl::Status s = CheckClientData(response.client_data_json, "webauthn.get",
                                       expect.challenge, expect.rp);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<AuthenticatorData> auth_data =
      ParseAuthenticatorData(response.authenticator_data);
  if (!auth_data.ok()) return auth_data.status();
  if (absl::Status s = CheckAuthenticatorData(*auth_data, expect.rp); !s.ok()) return s;
  const bool be = (auth_data->flags & kFlagBE) != 0;
  if (credential.backup_eligible.has_value() && *credential.backup_eligible != be) {
    return Refused(reason::kBackupFlags,
                   "the BE flag differs from the one recorded at registration");
  }
  const std::string signed_data =
      absl::StrCat(response.authenticator_data, Sha256(response.client_data_json));
  if (absl::Status s = VerifySignature(key->alg, key->key.get(), signed_data, response.signature);
      !s.ok()) {
    return Tagged(s, reason::kSignature);
  }
  if ((credential.sign_count != 0 || auth_data->sign_count != 0) &&
      auth_data->sign_count <= credential.sign_count) {
    return Refused(reason::kCounter,
                   absl::StrCat("sign counter did not increase (stored ", credential.sign_count,
                                ", received ", auth_data->sign_count,
                                "): possible cloned authenticator"));
  }
  VerifiedAssertion out;
  out.sign_count = auth_data->sign_count;
  out.user_verified = (auth_data->flags & kFlagUV) != 0;
  out.backup_eligible = be;
  out.backup_state = (auth_data->flags & kFlagBS) != 0;
  return out;
}

std::string FormatAaguid(absl::string_view aaguid) {
  if (aaguid.size() != 16) return "00000000-0000-0000-0000-000000000000";
  std::string hex = absl::BytesToHexString(aaguid);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

}  // namespace tally::webauthn
