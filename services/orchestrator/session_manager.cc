#include "services/orchestrator/session_manager.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TOTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;

}  // namespace

std::vector<std::string> AmrFor(const std::vector<AuthMethod>& methods, bool passkey_synced) {
  std::vector<std::string> amr;
  auto add = [&amr](const char* value) {
    if (std::find(amr.begin(), amr.end(), value) == amr.end()) amr.push_back(value);
  };
  int distinct = 0;
  for (AuthMethod method : methods) {
    if (MethodName(method).empty()) continue;
    ++distinct;
    switch (method) {
      case AUTH_METHOD_PASSWORD: add("pwd"); break;
      case AUTH_METHOD_SMS_OTP: add("sms"); break;
      case AUTH_METHOD_EMAIL_OTP:
      case AUTH_METHOD_TOTP: add("otp"); break;
      case AUTH_METHOD_PASSKEY: add(passkey_synced ? "swk" : "hwk"); break;
      default: break;  // no RFC 8176 value: only in "methods"
    }
  }
  if (distinct >= 2) amr.push_back("mfa");
  return amr;
}

std::vector<AuthMethod> MethodsFromAmr(const std::vector<std::string>& amr) {
  std::vector<AuthMethod> methods;
  for (const std::string& value : amr) {
    if (value == "pwd") methods.push_back(AUTH_METHOD_PASSWORD);
    if (value == "sms") methods.push_back(AUTH_METHOD_SMS_OTP);
    if (value == "otp") methods.push_back(AUTH_METHOD_EMAIL_OTP);
    if (value == "hwk" || value == "swk") methods.push_back(AUTH_METHOD_PASSKEY);
  }
  return methods;
}

absl::string_view MethodName(AuthMethod method) {
  switch (method) {
    case AUTH_METHOD_PASSWORD: return "password";
    case AUTH_METHOD_SMS_OTP: return "sms";
    case AUTH_METHOD_EMAIL_OTP: return "email";
    case AUTH_METHOD_PASSKEY: return "passkey";
    case AUTH_METHOD_TOTP: return "totp";
    case AUTH_METHOD_RECOVERY_CODE: return "recovery_code";
    case AUTH_METHOD_TRUSTED_DEVICE: return "trusted_device";
    default: return "";
  }
}

AuthMethod MethodFromName(absl::string_view name) {
  for (AuthMethod method : policy::KnownMethods()) {
    if (!name.empty() && MethodName(method) == name) return method;
  }
  return ::tally::common::v1::AUTH_METHOD_UNSPECIFIED;
}

std::vector<AuthMethod> MethodsOf(const SessionClaims& claims) {
  if (claims.methods.empty()) return MethodsFromAmr(claims.amr);
  std::vector<AuthMethod> methods;
  for (const std::string& name : claims.methods) {
    const AuthMethod method = MethodFromName(name);
    if (method != ::tally::common::v1::AUTH_METHOD_UNSPECIFIED) methods.push_back(method);
  }
  return methods;
}

std::map<AuthMethod, absl::Time> MethodTimesOf(const SessionClaims& claims) {
  std::map<AuthMethod, absl::Time> times;
  if (!claims.methods.empty()) {
    for (const std::string& name : claims.methods) {
      const AuthMethod method = MethodFromName(name);
      auto at = claims.amr_times.find(name);
      if (at == claims.amr_times.end() || method == ::tally::common::v1::AUTH_METHOD_UNSPECIFIED) {
        continue;
      }
      times[method] = at->second;
    }
    return times;
  }
  // A token from before the "methods" claim (issued before an upgrade): amr_time is keyed by
  // the amr values, so its methods still count for a step-up until it expires.
  for (const std::string& name : claims.amr) {
    auto at = claims.amr_times.find(name);
    const std::vector<AuthMethod> methods = MethodsFromAmr({name});
    if (at == claims.amr_times.end() || methods.empty()) continue;
    times[methods[0]] = at->second;
  }
  return times;
}

SessionFamily FamilyOf(const SessionClaims& claims) {
  return SessionFamily{claims.Family(), claims.expires_at};
}

absl::StatusOr<std::shared_ptr<const SigningKeys>> SigningKeys::FromPemFiles(
    const std::vector<std::string>& paths, const std::string& issuer, const Clock& clock) {
  std::vector<Ed25519PrivateKey> keys;
  for (const std::string& path : paths) {
    absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::FromPemFile(path);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("signing key: ", key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  return FromKeys(std::move(keys), issuer, clock);
}

absl::StatusOr<std::shared_ptr<const SigningKeys>> SigningKeys::FromKeys(
    std::vector<Ed25519PrivateKey> keys, const std::string& issuer, const Clock& clock) {
  if (keys.empty()) return absl::InvalidArgumentError("at least one signing key is required");
  std::vector<Ed25519PublicKey> public_keys;
  for (const Ed25519PrivateKey& key : keys) public_keys.push_back(key.PublicKey());
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::FromKeys(public_keys, {.issuer = issuer}, clock);
  if (!verifier.ok()) return verifier.status();
  return std::shared_ptr<const SigningKeys>(
      new SigningKeys(JwtSigner(keys.front()), *std::move(verifier), issuer));
}

SessionManager::SessionManager(std::shared_ptr<const SigningKeys> keys,
                               RevocationStore& revocations, const Clock& clock,
                               RandomSource& random, absl::Duration lifetime)
    : keys_(std::move(keys)),
      revocations_(revocations),
      clock_(clock),
      random_(random),
      lifetime_(lifetime) {}

absl::StatusOr<IssuedSession> SessionManager::Issue(const SessionRequest& request) {
  // The issue time to the millisecond ("iat_ms": a login right after a per-user revocation is
  // told apart from the tokens it ended), the other times in whole seconds (NumericDate), so
  // claims round-trip exactly.
  const absl::Time issued = absl::FromUnixMillis(absl::ToUnixMillis(clock_.Now()));
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(issued));
  SessionClaims claims;
  claims.issuer = keys_->issuer();
  claims.subject = request.user_id;
  claims.directory_id = request.directory_id;
  claims.session_id = NewId(random_, "ses_");
  claims.acr = absl::StrCat(request.level);
  claims.amr = AmrFor(request.methods, request.passkey_synced);
  for (AuthMethod method : request.methods) {
    const absl::string_view name = MethodName(method);
    if (!name.empty()) claims.methods.emplace_back(name);
  }
  claims.roles = request.roles;
  claims.issued_at = issued;
  if (request.family.has_value()) {
    // A step-up never outlives what it extends, and all of a family expire together, so the
    // family's revocation record (until its first token's expiry) covers every member.
    if (request.family->expires_at <= now) {
      return absl::UnauthenticatedError("invalid session token: expired");
    }
    claims.family_id = request.family->id;
    claims.expires_at = request.family->expires_at;
  } else {
    claims.family_id = claims.session_id;
    claims.expires_at = now + lifetime_;
  }
  claims.auth_time =
      std::min(now, absl::FromUnixSeconds(absl::ToUnixSeconds(request.auth_time)));
  for (const auto& [method, at] : request.method_times) {
    const absl::string_view name = MethodName(method);
    if (name.empty()) continue;
    claims.amr_times[std::string(name)] =
        std::min(now, absl::FromUnixSeconds(absl::ToUnixSeconds(at)));
  }
  absl::StatusOr<std::string> token = keys_->signer().Sign(claims);
  if (!token.ok()) return token.status();
  return IssuedSession{*std::move(token), claims.session_id, claims.expires_at};
}

absl::StatusOr<SessionClaims> SessionManager::Validate(absl::string_view token) {
  absl::StatusOr<SessionClaims> claims =
      keys_->verifier().Verify(std::string_view(token.data(), token.size()));
  if (!claims.ok()) return claims.status();
  absl::StatusOr<bool> revoked = revocations_.IsRevoked(*claims);
  if (!revoked.ok()) return revoked.status();
  if (*revoked) return absl::UnauthenticatedError("invalid session token: revoked");
  return claims;
}

absl::Status SessionManager::Revoke(absl::string_view token) {
  absl::StatusOr<SessionClaims> claims =
      keys_->verifier().Verify(std::string_view(token.data(), token.size()));
  if (!claims.ok()) return claims.status();
  return revocations_.RevokeSession(*claims);
}

std::string SessionManager::Jwks() const { return keys_->verifier().ToJwks(); }

}  // namespace tally::orchestrator
