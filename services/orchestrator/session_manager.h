#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/jwt.h"
#include "common/auth/revocation.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "tally/common/v1/common.pb.h"

namespace tally::orchestrator {

using ::tally::common::v1::AuthMethod;

// RFC 8176 "amr" values: pwd, sms, otp (e-mail codes and TOTP), hwk / swk (passkeys:
// device-bound / synced), plus mfa when two or more methods were used. Recovery codes and
// remembered devices have no amr value (they are only in the "methods" claim).
std::vector<std::string> AmrFor(const std::vector<AuthMethod>& methods, bool passkey_synced);
// The methods behind amr values (unknown values are ignored; "otp" reads as e-mail): how tokens
// that predate the "methods" claim are read.
std::vector<AuthMethod> MethodsFromAmr(const std::vector<std::string>& amr);
// Tally's name of a method in the "methods" claim and as amr_time's key (API.md "New methods"):
// password, sms, email, passkey, totp, recovery_code, trusted_device; empty for any other value.
absl::string_view MethodName(AuthMethod method);
// The method of such a name; AUTH_METHOD_UNSPECIFIED for an unknown one.
AuthMethod MethodFromName(absl::string_view name);
// The token's methods: its "methods" claim, or its "amr" for a token that predates the claim.
std::vector<AuthMethod> MethodsOf(const SessionClaims& claims);
// When each of the token's methods was completed, from its "amr_time" (keyed by the names of
// "methods", or by the amr values in a token that predates that claim); methods without a time
// are left out.
std::map<AuthMethod, absl::Time> MethodTimesOf(const SessionClaims& claims);

// Where revoked session ids are remembered until their tokens expire: the interface every
// service's Authenticator checks too (common/auth/revocation.h; Redis: RedisRevocationStore).
using ::tally::RevocationStore;

// The signing keys: several at once for rotation. The first key signs; every key is published
// by GetJwks and accepted by Validate, so tokens signed before a rotation stay valid.
class SigningKeys {
 public:
  // PEM files of Ed25519 private keys, newest first.
  static absl::StatusOr<std::shared_ptr<const SigningKeys>> FromPemFiles(
      const std::vector<std::string>& paths, const std::string& issuer, const Clock& clock);
  static absl::StatusOr<std::shared_ptr<const SigningKeys>> FromKeys(
      std::vector<Ed25519PrivateKey> keys, const std::string& issuer, const Clock& clock);

  const JwtSigner& signer() const { return signer_; }
  const JwtVerifier& verifier() const { return verifier_; }
  const std::string& issuer() const { return issuer_; }

 private:
  SigningKeys(JwtSigner signer, JwtVerifier verifier, std::string issuer)
      : signer_(std::move(signer)), verifier_(std::move(verifier)), issuer_(std::move(issuer)) {}
  JwtSigner signer_;
  JwtVerifier verifier_;
  std::string issuer_;
};

struct IssuedSession {
  std::string token;
  std::string session_id;
  absl::Time expires_at;
};

// The family a step-up's token joins (SessionClaims::family_id): revoking any token of a family
// revokes them all, and no member outlives the family's first token.
struct SessionFamily {
  std::string id;
  absl::Time expires_at;
};

// The family of the session `claims` belong to (what a step-up of that session joins).
SessionFamily FamilyOf(const SessionClaims& claims);

struct SessionRequest {
  std::string user_id;
  std::string directory_id;
  std::vector<std::string> roles;
  std::vector<AuthMethod> methods;
  bool passkey_synced = false;
  // When each method was completed ("amr_time" in the token; step-up checks each one's age).
  std::map<AuthMethod, absl::Time> method_times;
  int level = 0;         // the score the login reached ("acr")
  absl::Time auth_time;  // the last interactive authentication
  // A step-up: the family of the session it steps up (FamilyOf its claims). The new token joins
  // it and expires with it. Unset for a new login, whose token starts a family of its own.
  std::optional<SessionFamily> family;
};

// Issues, validates and revokes session tokens (EdDSA JWTs).
class SessionManager {
 public:
  SessionManager(std::shared_ptr<const SigningKeys> keys, RevocationStore& revocations,
                 const Clock& clock, RandomSource& random, absl::Duration lifetime);

  // The token of a new login (a family of its own, named after its session) or of a step-up
  // (joins request.family and expires with it; UNAUTHENTICATED once the family has expired).
  absl::StatusOr<IssuedSession> Issue(const SessionRequest& request);
  // Signature, expiry and revocation (the session's, its family's, its user's);
  // UNAUTHENTICATED when the token is not a live session.
  absl::StatusOr<SessionClaims> Validate(absl::string_view token);
  // Revokes the session and its family (the login's token and every step-up of it) in every
  // service, until the verifiers would refuse them as expired anyway. The token itself is the
  // proof; revoking twice is fine.
  absl::Status Revoke(absl::string_view token);
  std::string Jwks() const;

 private:
  std::shared_ptr<const SigningKeys> keys_;
  RevocationStore& revocations_;
  const Clock& clock_;
  RandomSource& random_;
  const absl::Duration lifetime_;
};

}  // namespace tally::orchestrator
