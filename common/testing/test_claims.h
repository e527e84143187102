#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/auth/jwt.h"

// The claims of a session token in a test, in one place: unit tests build a Caller from them or
// sign them with their own signer and clock; TestKeys::Token() signs them for real services.
namespace tally::testing {

// What a test's session says. The defaults: a user's password + SMS login at level 30.
struct TokenSpec {
  std::string directory_id{};
  std::string user_id{};
  std::vector<std::string> roles = {"user"};
  std::string acr = "30";
  std::vector<std::string> amr = {"pwd", "sms", "mfa"};
  std::optional<absl::Time> auth_time{};  // default: when the token is issued
  absl::Duration lifetime = absl::Hours(1);
  std::string session_id = "ses_test";
  std::string issuer = "tally";
  // "fam": the login this session belongs to (a step-up's); empty: a family of its own.
  std::string family_id{};
};

// The claims of `spec` for a token issued at `now`.
inline SessionClaims TestClaims(const TokenSpec& spec, absl::Time now) {
  SessionClaims claims;
  claims.issuer = spec.issuer;
  claims.subject = spec.user_id;
  claims.directory_id = spec.directory_id;
  claims.session_id = spec.session_id;
  claims.family_id = spec.family_id;
  claims.acr = spec.acr;
  claims.amr = spec.amr;
  claims.roles = spec.roles;
  claims.issued_at = now;
  claims.auth_time = spec.auth_time.value_or(now);
  claims.expires_at = now + spec.lifetime;
  return claims;
}

}  // namespace tally::testing
