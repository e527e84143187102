#pragma once

// Session tokens: JWTs signed with Ed25519 (RFC 8037, `alg: EdDSA`). The orchestrator signs
// them; every service verifies them locally against the orchestrator's published keys (JWKS).
// The keys themselves are common/auth/ed25519_key.h.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/ed25519_key.h"
#include "common/util/clock.h"

namespace tally {

// The role that makes a user an administrator of the directory in the token's `dir` claim.
inline constexpr std::string_view kAdminRole = "admin";

// Tolerated clock skew between the orchestrator and a verifier, on exp, iat, nbf and auth_time.
// A token is refused once `exp + kTokenLeeway` has passed, so revocation records live that long.
inline constexpr absl::Duration kTokenLeeway = absl::Seconds(30);
// The longest a session token may live (exp - iat): the orchestrator's --session_lifetime is at
// most this, and verifiers refuse longer tokens, so a per-user revocation record can expire
// this long (plus the leeway) after it was written.
inline constexpr absl::Duration kMaxSessionLifetime = absl::Hours(24 * 30);

// The claims of a session token (DESIGN.md §5). Times travel as NumericDate (whole seconds),
// except the issue time, which a private claim refines to milliseconds.
struct SessionClaims {
  std::string issuer;              // "iss"
  std::string subject;             // "sub": the user id
  std::string directory_id;        // "dir"
  std::string session_id;          // "sid"
  // "fam" (private claim): the session family. A login starts one (SessionManager); a step-up
  // token joins the family of the token it steps up, and revoking any member revokes them all.
  // Empty in tokens that predate it: such a token is a family of its own.
  std::string family_id;
  std::string acr;                 // "acr": the level the login reached
  std::vector<std::string> amr;    // "amr": methods used, RFC 8176 names
  // "methods" (private claim): the methods used, by Tally's names ("password", "sms", "email",
  // "passkey", "totp", "recovery_code", "trusted_device"): amr cannot tell e-mail codes from
  // TOTP and has no name for recovery codes or remembered devices. Absent in older tokens.
  std::vector<std::string> methods;
  std::vector<std::string> roles;  // "roles"
  // "iat", and "iat_ms" (private claim: the same instant in milliseconds), so a token issued in
  // the same second as a per-user revocation, but after it, is told apart from an older one.
  // Tokens without "iat_ms" are taken as issued at the start of their "iat" second.
  absl::Time issued_at;
  absl::Time expires_at;           // "exp"
  absl::Time auth_time;            // "auth_time": the last interactive authentication
  // "amr_time" (private claim): when each method was completed, keyed by its "methods" name (by
  // its "amr" name in tokens without "methods"), so that step-up can count only methods younger
  // than its max age. Absent in tokens that predate it.
  std::map<std::string, absl::Time> amr_times;

  bool HasRole(std::string_view role) const;
  // The family this token belongs to: "fam", or for a token without one its own session.
  const std::string& Family() const { return family_id.empty() ? session_id : family_id; }
  friend bool operator==(const SessionClaims&, const SessionClaims&) = default;
};

// What checks a session token's signature and claims: a JwtVerifier (fixed keys) or a
// JwksFileVerifier (keys from a file that may change). Safe to call from many threads.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // The claims of a valid token; UNAUTHENTICATED "invalid session token: <reason>" otherwise.
  virtual absl::StatusOr<SessionClaims> Verify(std::string_view token) const = 0;
};

// Mints session tokens. Header {"alg":"EdDSA","kid":<thumbprint of the key>,"typ":"JWT"}.
class JwtSigner {
 public:
  explicit JwtSigner(Ed25519PrivateKey key);
  static absl::StatusOr<JwtSigner> FromPem(std::string_view pem);
  static absl::StatusOr<JwtSigner> FromPemFile(const std::string& path);

  // INVALID_ARGUMENT when the claims are ones JwtVerifier would refuse (empty iss, sub, dir or
  // sid, exp not after iat or more than kMaxSessionLifetime after it, a time outside years
  // 1970..9999, text that is not UTF-8), so we never hand out a token nobody accepts. The issue
  // time is signed to the millisecond, the other times to the second. INTERNAL only if OpenSSL
  // fails.
  absl::StatusOr<std::string> Sign(const SessionClaims& claims) const;

  const std::string& kid() const { return kid_; }
  Ed25519PublicKey PublicKey() const { return key_.PublicKey(); }

 private:
  Ed25519PrivateKey key_;
  std::string kid_;
};

struct JwtVerifierOptions {
  // The only accepted "iss". Must not be empty.
  std::string issuer;
  // Tolerated clock skew between the orchestrator and us, on exp, iat, nbf and auth_time.
  absl::Duration leeway = kTokenLeeway;
  // Longer tokens are refused before any parsing.
  size_t max_token_bytes = 8 * 1024;
};

// Verifies session tokens against a set of public keys addressed by kid; several keys at once
// let the orchestrator rotate its signing key without invalidating live sessions. Immutable after
// construction, so one instance may serve every thread.
//
// Every rejection is UNAUTHENTICATED "invalid session token: <reason>", where the reason is a
// fixed phrase ("expired", "bad signature", ...) and never echoes the token or any part of it.
// Revocation (common/auth/revocation.h) is not checked here.
class JwtVerifier final : public TokenVerifier {
 public:
  // `clock` must outlive the verifier. INVALID_ARGUMENT without keys or without an issuer.
  static absl::StatusOr<JwtVerifier> FromKeys(const std::vector<Ed25519PublicKey>& keys,
                                              JwtVerifierOptions options, const Clock& clock);
  // RFC 7517 JWK Set. Keys other than Ed25519 signing keys (kty != "OKP", crv != "Ed25519", or
  // "use" other than "sig") are skipped; malformed Ed25519 keys, keys carrying a private part
  // ("d"), duplicate kids, or a set without any Ed25519 key are INVALID_ARGUMENT. A key without
  // "kid" gets its RFC 7638 thumbprint.
  static absl::StatusOr<JwtVerifier> FromJwks(std::string_view jwks_json,
                                              JwtVerifierOptions options, const Clock& clock);
  // SubjectPublicKeyInfo PEM files, one key each; kids are thumbprints.
  static absl::StatusOr<JwtVerifier> FromPemFiles(const std::vector<std::string>& paths,
                                                  JwtVerifierOptions options, const Clock& clock);

  // The public keys as a JWK Set, in kid order, for SessionService.GetJwks.
  std::string ToJwks() const;
  std::vector<std::string> Kids() const;

  absl::StatusOr<SessionClaims> Verify(std::string_view token) const override;

 private:
  JwtVerifier(std::map<std::string, Ed25519PublicKey, std::less<>> keys, JwtVerifierOptions options,
              const Clock& clock)
      : keys_(std::move(keys)), options_(std::move(options)), clock_(&clock) {}
  static absl::StatusOr<JwtVerifier> Make(std::map<std::string, Ed25519PublicKey, std::less<>> keys,
                                          JwtVerifierOptions options, const Clock& clock);

  std::map<std::string, Ed25519PublicKey, std::less<>> keys_;
  JwtVerifierOptions options_;
  const Clock* clock_;
};

// A verifier from the text of the JWK Set file `path` (named in errors).
absl::StatusOr<JwtVerifier> JwksFromFileText(std::string_view text, const std::string& path,
                                             JwtVerifierOptions options, const Clock& clock);
// Reads a JWK Set file (NOT_FOUND if unreadable) and builds a verifier from it.
absl::StatusOr<JwtVerifier> LoadJwksFile(const std::string& path, JwtVerifierOptions options,
                                         const Clock& clock);

}  // namespace tally
