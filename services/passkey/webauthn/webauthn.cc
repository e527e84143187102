#include "services/passkey/webauthn/webauthn.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/util/strict_json.h"
#include "common/util/text.h"
#include "services/passkey/webauthn/attestation.h"
#include "services/passkey/webauthn/cbor.h"
#include "services/passkey/webauthn/crypto.h"

namespace tally::webauthn {
namespace {

using json = nlohmann::json;

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
      VerifyAttestationStatement(*fmt, att_stmt, *auth_data_bytes, *auth_data, *key,
                                 client_data_hash, expect.trust_anchors.get());
  if (!attestation.ok()) return Tagged(attestation.status(), reason::kAttestation);
  if (expect.require_attestation) {
    // Trust first: an AAGUID nobody vouched for is never looked up.
    if (!attestation->trusted) {
      return Refused(reason::kAttestation,
                     absl::StrCat("an attestation certificate chain to a trusted CA is required (",
                                  attestation->type, " attestation does not prove the model)"));
    }
    if (std::find(expect.allowed_aaguids.begin(), expect.allowed_aaguids.end(),
                  auth_data->aaguid) == expect.allowed_aaguids.end()) {
      return Refused(reason::kAaguid,
                     absl::StrCat("authenticator model ", FormatAaguid(auth_data->aaguid),
                                  " (AAGUID) is not on the allow-list"));
    }
  }

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
  out.attestation_trusted = attestation->trusted;
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

absl::StatusOr<std::string> ParseAaguid(absl::string_view uuid) {
  static constexpr size_t kDashes[] = {8, 13, 18, 23};
  std::string hex;
  bool ok = uuid.size() == 36;
  for (size_t i = 0; ok && i < uuid.size(); ++i) {
    if (std::find(std::begin(kDashes), std::end(kDashes), i) != std::end(kDashes)) {
      ok = uuid[i] == '-';
    } else {
      ok = absl::ascii_isxdigit(uuid[i]);
      hex.push_back(uuid[i]);
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(uuid),
                     "\" is not an AAGUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
  }
  return absl::HexStringToBytes(hex);
}

}  // namespace tally::webauthn
