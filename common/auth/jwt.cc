#include "common/auth/jwt.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/util/file.h"
#include "common/util/strict_json.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally {
namespace {

using Json = nlohmann::json;

// Debian's Abseil keeps its own string_view type, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// NumericDate bounds we accept: 1970 .. end of year 9999, well inside absl::Time and int64.
constexpr int64_t kMaxNumericDate = 253402300799;

// base64url exactly as JWS writes it: no padding, no stray characters and the canonical
// encoding only, so one token has one spelling (revocation lists and logs compare tokens).
bool DecodeStrict(std::string_view text, std::string* out) {
  if (text.find('=') != std::string_view::npos) return false;
  if (!Base64UrlDecode(text, out)) return false;
  return Base64UrlEncode(*out) == text;
}

// One JSON object by the strict rules (common/util/strict_json.h): a token must mean the same
// thing to every reader.
std::optional<Json> ParseObjectStrict(std::string_view text) {
  absl::StatusOr<Json> value = ParseStrictJson(Sv(text));
  if (!value.ok() || !value->is_object()) return std::nullopt;
  return *std::move(value);
}

absl::Status Rejected(std::string_view reason) {
  return absl::UnauthenticatedError(absl::StrCat("invalid session token: ", Sv(reason)));
}

const std::string* FindString(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

enum class Presence { kRequired, kOptional };

// A NumericDate claim. nullopt result with OK status means "absent and optional".
absl::StatusOr<std::optional<absl::Time>> GetNumericDate(const Json& claims, const char* name,
                                                         Presence presence) {
  auto it = claims.find(name);
  if (it == claims.end()) {
    if (presence == Presence::kRequired) return Rejected(absl::StrCat("missing ", name));
    return std::optional<absl::Time>();
  }
  const absl::Status bad = Rejected(absl::StrCat("bad ", name));
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxNumericDate)) return bad;
    return std::optional<absl::Time>(absl::FromUnixSeconds(static_cast<int64_t>(v)));
  }
  if (it->is_number_integer()) {  // signed: only negative values land here
    const int64_t v = it->get<int64_t>();
    if (v < 0 || v > kMaxNumericDate) return bad;
    return std::optional<absl::Time>(absl::FromUnixSeconds(v));
  }
  if (it->is_number_float()) {  // RFC 7519 allows fractional seconds
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < 0 || v > static_cast<double>(kMaxNumericDate)) return bad;
    return std::optional<absl::Time>(absl::UnixEpoch() + absl::Seconds(v));
  }
  return bad;
}

// A claim that must be an array of strings when present; absent means empty.
absl::StatusOr<std::vector<std::string>> GetStringArray(const Json& claims, const char* name) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  if (!it->is_array()) return Rejected(absl::StrCat("bad ", name));
  for (const Json& item : *it) {
    if (!item.is_string()) return Rejected(absl::StrCat("bad ", name));
    out.push_back(item.get<std::string>());
  }
  return out;
}

// The one home of the longest token lifetime, for the signer and the verifier alike.
bool LifetimeTooLong(int64_t iat_seconds, int64_t exp_seconds) {
  return exp_seconds - iat_seconds > absl::ToInt64Seconds(kMaxSessionLifetime);
}

bool InNumericDateRange(absl::Time t) {
  return t >= absl::UnixEpoch() && t <= absl::FromUnixSeconds(kMaxNumericDate);
}

absl::Status CheckSignable(const SessionClaims& c) {
  auto missing = [](std::string_view name) {
    return absl::InvalidArgumentError(absl::StrCat("session claims lack ", Sv(name)));
  };
  if (c.issuer.empty()) return missing("iss");
  if (c.subject.empty()) return missing("sub");
  if (c.directory_id.empty()) return missing("dir");
  if (c.session_id.empty()) return missing("sid");
  for (absl::Time t : {c.issued_at, c.expires_at, c.auth_time}) {
    if (!InNumericDateRange(t)) {
      return absl::InvalidArgumentError("session claim time outside 1970..9999");
    }
  }
  for (const auto& [method, t] : c.amr_times) {
    if (!InNumericDateRange(t)) {
      return absl::InvalidArgumentError("session claim time outside 1970..9999");
    }
  }
  if (absl::ToUnixSeconds(c.expires_at) <= absl::ToUnixSeconds(c.issued_at)) {
    return absl::InvalidArgumentError("session claims: exp must be after iat");
  }
  if (LifetimeTooLong(absl::ToUnixSeconds(c.issued_at), absl::ToUnixSeconds(c.expires_at))) {
    return absl::InvalidArgumentError("session claims: exp is too long after iat");
  }
  std::vector<const std::string*> texts = {&c.issuer, &c.subject, &c.directory_id, &c.session_id,
                                           &c.family_id, &c.acr};
  for (const auto& s : c.amr) texts.push_back(&s);
  for (const auto& s : c.methods) texts.push_back(&s);
  for (const auto& s : c.roles) texts.push_back(&s);
  for (const auto& [method, t] : c.amr_times) texts.push_back(&method);
  for (const std::string* s : texts) {
    if (!IsValidUtf8(*s)) return absl::InvalidArgumentError("session claims hold non-UTF-8 text");
  }
  return absl::OkStatus();
}

}  // namespace

bool SessionClaims::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

// ---- JwtSigner ----

JwtSigner::JwtSigner(Ed25519PrivateKey key) : key_(std::move(key)), kid_(key_.PublicKey().Kid()) {}

absl::StatusOr<JwtSigner> JwtSigner::FromPem(std::string_view pem) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPem(pem);
  if (!key.ok()) return key.status();
  return JwtSigner(*std::move(key));
}

absl::StatusOr<JwtSigner> JwtSigner::FromPemFile(const std::string& path) {
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPemFile(path);
  if (!key.ok()) return key.status();
  return JwtSigner(*std::move(key));
}

absl::StatusOr<std::string> JwtSigner::Sign(const SessionClaims& claims) const {
  if (absl::Status s = CheckSignable(claims); !s.ok()) return s;
  std::string signing_input;
  try {
    const Json header = {{"alg", kEdDsaAlg}, {"kid", kid_}, {"typ", "JWT"}};
    Json payload = {
        {"iss", claims.issuer},
        {"sub", claims.subject},
        {"dir", claims.directory_id},
        {"sid", claims.session_id},
        {"acr", claims.acr},
        {"amr", claims.amr},
        {"roles", claims.roles},
        {"iat", absl::ToUnixSeconds(claims.issued_at)},
        {"iat_ms", absl::ToUnixMillis(claims.issued_at)},
        {"exp", absl::ToUnixSeconds(claims.expires_at)},
        {"auth_time", absl::ToUnixSeconds(claims.auth_time)},
    };
    if (!claims.family_id.empty()) payload["fam"] = claims.family_id;
    if (!claims.methods.empty()) payload["methods"] = claims.methods;
    if (!claims.amr_times.empty()) {
      Json times = Json::object();
      for (const auto& [method, t] : claims.amr_times) times[method] = absl::ToUnixSeconds(t);
      payload["amr_time"] = std::move(times);
    }
    signing_input =
        absl::StrCat(Base64UrlEncode(header.dump()), ".", Base64UrlEncode(payload.dump()));
  } catch (const std::exception&) {
    return absl::InternalError("cannot encode session claims");
  }
  absl::StatusOr<std::string> signature = key_.Sign(signing_input);
  if (!signature.ok()) return signature.status();
  return absl::StrCat(signing_input, ".", Base64UrlEncode(*signature));
}

// ---- JwtVerifier ----

absl::StatusOr<JwtVerifier> JwtVerifier::Make(
    std::map<std::string, Ed25519PublicKey, std::less<>> keys, JwtVerifierOptions options,
    const Clock& clock) {
  if (keys.empty()) return absl::InvalidArgumentError("no Ed25519 verification keys");
  if (options.issuer.empty()) return absl::InvalidArgumentError("no expected token issuer");
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("negative token leeway");
  }
  return JwtVerifier(std::move(keys), std::move(options), clock);
}

absl::StatusOr<JwtVerifier> JwtVerifier::FromKeys(const std::vector<Ed25519PublicKey>& keys,
                                                  JwtVerifierOptions options, const Clock& clock) {
  std::map<std::string, Ed25519PublicKey, std::less<>> by_kid;
  // The same key listed twice collapses into one entry.
  for (const Ed25519PublicKey& key : keys) by_kid.emplace(key.Kid(), key);
  return Make(std::move(by_kid), std::move(options), clock);
}

absl::StatusOr<JwtVerifier> JwtVerifier::FromJwks(std::string_view jwks_json,
                                                  JwtVerifierOptions options, const Clock& clock) {
  std::optional<Json> jwks = ParseObjectStrict(jwks_json);
  if (!jwks.has_value()) {
    return absl::InvalidArgumentError("JWKS is not a JSON object with unique member names");
  }
  auto keys_it = jwks->find("keys");
  if (keys_it == jwks->end() || !keys_it->is_array()) {
    return absl::InvalidArgumentError("JWKS has no \"keys\" array");
  }
  std::map<std::string, Ed25519PublicKey, std::less<>> by_kid;
  size_t index = 0;
  for (const Json& jwk : *keys_it) {
    const std::string where = absl::StrCat("JWKS key #", index++, ": ");
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(where, why));
    };
    if (!jwk.is_object()) return bad("not an object");
    const std::string* kty = FindString(jwk, "kty");
    if (kty == nullptr) return bad("missing kty");
    if (*kty != "OKP") continue;  // RSA, EC, oct: not ours
    const std::string* crv = FindString(jwk, "crv");
    if (crv == nullptr) return bad("missing crv");
    if (*crv != "Ed25519") continue;  // Ed448, X25519
    if (jwk.contains("use")) {
      const std::string* use = FindString(jwk, "use");
      if (use == nullptr) return bad("bad use");
      if (*use != "sig") continue;  // an encryption key
    }
    // A private key in a set meant for publication is a leak waiting to happen: refuse it.
    if (jwk.contains("d")) return bad("holds a private key (\"d\")");
    if (jwk.contains("alg")) {
      const std::string* alg = FindString(jwk, "alg");
      if (alg == nullptr || *alg != kEdDsaAlg) return bad("alg must be EdDSA");
    }
    const std::string* x = FindString(jwk, "x");
    std::string raw;
    if (x == nullptr || !DecodeStrict(*x, &raw)) return bad("missing or bad x");
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromRaw(raw);
    if (!key.ok()) return bad(key.status().message());
    std::string kid;
    if (jwk.contains("kid")) {
      const std::string* k = FindString(jwk, "kid");
      if (k == nullptr || k->empty()) return bad("bad kid");
      kid = *k;
    } else {
      kid = key->Kid();
    }
    if (!by_kid.emplace(kid, *std::move(key)).second) return bad("duplicate kid");
  }
  if (by_kid.empty()) return absl::InvalidArgumentError("JWKS holds no Ed25519 signing key");
  return Make(std::move(by_kid), std::move(options), clock);
}

absl::StatusOr<JwtVerifier> JwtVerifier::FromPemFiles(const std::vector<std::string>& paths,
                                                      JwtVerifierOptions options,
                                                      const Clock& clock) {
  std::vector<Ed25519PublicKey> keys;
  for (const std::string& path : paths) {
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPemFile(path);
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  return FromKeys(keys, std::move(options), clock);
}

std::string JwtVerifier::ToJwks() const {
  Json keys = Json::array();
  for (const auto& [kid, key] : keys_) keys.push_back(key.ToJwk(kid));
  try {
    return Json{{"keys", std::move(keys)}}.dump();
  } catch (const std::exception&) {
    // Only a kid that is not UTF-8 (from a foreign JWKS) gets here; such a kid came in through
    // a JSON parser that rejects it, so this is unreachable in practice.
    return R"({"keys":[]})";
  }
}

std::vector<std::string> JwtVerifier::Kids() const {
  std::vector<std::string> out;
  for (const auto& entry : keys_) out.push_back(entry.first);
  return out;
}

absl::StatusOr<SessionClaims> JwtVerifier::Verify(std::string_view token) const {
  if (token.size() > options_.max_token_bytes) return Rejected("too large");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Rejected("not a compact JWS");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return Rejected("not a compact JWS");
  }

  std::string header_text;
  if (!DecodeStrict(header_b64, &header_text)) return Rejected("bad header encoding");
  std::optional<Json> header = ParseObjectStrict(header_text);
  if (!header.has_value()) return Rejected("bad header");
  // Exactly EdDSA: the key type alone must never pick the algorithm ("none", HS256 keyed with
  // the public key, ...).
  const std::string* alg = FindString(*header, "alg");
  if (alg == nullptr || *alg != kEdDsaAlg) return Rejected("unsupported alg");
  if (header->contains("crit")) return Rejected("unsupported crit");
  if (header->contains("typ")) {
    const std::string* typ = FindString(*header, "typ");
    if (typ == nullptr || !absl::EqualsIgnoreCase(*typ, "JWT")) return Rejected("bad typ");
  }
  // Keys come only from our configuration; jwk/jku/x5u in the header are ignored on purpose.
  const std::string* kid = FindString(*header, "kid");
  if (kid == nullptr || kid->empty()) return Rejected("missing kid");
  auto key = keys_.find(*kid);
  if (key == keys_.end()) return Rejected("unknown kid");

  std::string signature;
  if (!DecodeStrict(signature_b64, &signature)) return Rejected("bad signature encoding");
  if (!key->second.Verify(token.substr(0, dot2), signature)) return Rejected("bad signature");

  // Only signed bytes are parsed from here on.
  std::string payload_text;
  if (!DecodeStrict(payload_b64, &payload_text)) return Rejected("bad payload encoding");
  std::optional<Json> payload = ParseObjectStrict(payload_text);
  if (!payload.has_value()) return Rejected("bad payload");
  const Json& p = *payload;

  SessionClaims claims;
  const std::string* iss = FindString(p, "iss");
  if (iss == nullptr) return Rejected("missing iss");
  if (*iss != options_.issuer) return Rejected("wrong issuer");
  claims.issuer = *iss;
  struct Required {
    const char* name;
    std::string* field;
  };
  for (const Required& r : {Required{"sub", &claims.subject}, Required{"dir", &claims.directory_id},
                            Required{"sid", &claims.session_id}}) {
    const std::string* value = FindString(p, r.name);
    if (value == nullptr || value->empty()) return Rejected(absl::StrCat("missing ", r.name));
    *r.field = *value;
  }
  if (p.contains("fam")) {
    const std::string* fam = FindString(p, "fam");
    if (fam == nullptr || fam->empty()) return Rejected("bad fam");
    claims.family_id = *fam;
  }
  if (p.contains("acr")) {
    const std::string* acr = FindString(p, "acr");
    if (acr == nullptr) return Rejected("bad acr");
    claims.acr = *acr;
  }
  absl::StatusOr<std::vector<std::string>> amr = GetStringArray(p, "amr");
  if (!amr.ok()) return amr.status();
  claims.amr = *std::move(amr);
  absl::StatusOr<std::vector<std::string>> methods = GetStringArray(p, "methods");
  if (!methods.ok()) return methods.status();
  claims.methods = *std::move(methods);
  absl::StatusOr<std::vector<std::string>> roles = GetStringArray(p, "roles");
  if (!roles.ok()) return roles.status();
  claims.roles = *std::move(roles);
  if (auto times = p.find("amr_time"); times != p.end()) {
    if (!times->is_object()) return Rejected("bad amr_time");
    for (const auto& [method, value] : times->items()) {
      absl::StatusOr<std::optional<absl::Time>> t =
          GetNumericDate(*times, method.c_str(), Presence::kRequired);
      if (!t.ok()) return Rejected("bad amr_time");
      claims.amr_times[method] = **t;
    }
  }

  absl::StatusOr<std::optional<absl::Time>> exp = GetNumericDate(p, "exp", Presence::kRequired);
  if (!exp.ok()) return exp.status();
  absl::StatusOr<std::optional<absl::Time>> iat = GetNumericDate(p, "iat", Presence::kRequired);
  if (!iat.ok()) return iat.status();
  absl::StatusOr<std::optional<absl::Time>> auth_time =
      GetNumericDate(p, "auth_time", Presence::kRequired);
  if (!auth_time.ok()) return auth_time.status();
  absl::StatusOr<std::optional<absl::Time>> nbf = GetNumericDate(p, "nbf", Presence::kOptional);
  if (!nbf.ok()) return nbf.status();
  claims.expires_at = **exp;
  claims.issued_at = **iat;
  claims.auth_time = **auth_time;
  if (auto iat_ms = p.find("iat_ms"); iat_ms != p.end()) {
    // Milliseconds of the same instant as "iat": it must fall inside iat's second.
    if (!iat_ms->is_number_integer()) return Rejected("bad iat_ms");
    const int64_t ms = iat_ms->get<int64_t>();
    const int64_t second = absl::ToUnixSeconds(claims.issued_at);
    if (ms < 0 || ms / 1000 != second || claims.issued_at != absl::FromUnixSeconds(second)) {
      return Rejected("bad iat_ms");
    }
    claims.issued_at = absl::FromUnixMillis(ms);
  }
  if (LifetimeTooLong(absl::ToUnixSeconds(claims.issued_at),
                      absl::ToUnixSeconds(claims.expires_at))) {
    return Rejected("lifetime too long");
  }

  const absl::Time now = clock_->Now();
  const absl::Duration leeway = options_.leeway;
  if (now >= claims.expires_at + leeway) return Rejected("expired");
  if (claims.issued_at > now + leeway) return Rejected("issued in the future");
  if (nbf->has_value() && **nbf > now + leeway) return Rejected("not yet valid");
  if (claims.auth_time > now + leeway) return Rejected("auth_time in the future");
  for (const auto& [method, t] : claims.amr_times) {
    if (t > now + leeway) return Rejected("amr_time in the future");
  }
  return claims;
}

absl::StatusOr<JwtVerifier> JwksFromFileText(std::string_view text, const std::string& path,
                                             JwtVerifierOptions options, const Clock& clock) {
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromJwks(text, std::move(options), clock);
  if (!verifier.ok()) {
    return absl::Status(verifier.status().code(),
                        absl::StrCat(verifier.status().message(), " (", path, ")"));
  }
  return verifier;
}

absl::StatusOr<JwtVerifier> LoadJwksFile(const std::string& path, JwtVerifierOptions options,
                                         const Clock& clock) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return JwksFromFileText(*text, path, std::move(options), clock);
}

}  // namespace tally
