#include "common/auth/caller.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally {
namespace {

constexpr std::string_view kBearer = "bearer";

// Debian's Abseil keeps its own string_view type, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status CredentialsRequired() { return absl::UnauthenticatedError("credentials required"); }

absl::Status OtherDirectory() {
  // The requested id is the caller's input, unchecked yet: never echoed.
  return absl::PermissionDeniedError("session is for another directory than the one requested");
}

// The token of "Bearer <token>" (RFC 6750 §2.1), or nullopt when the value has another shape.
std::optional<std::string_view> BearerToken(std::string_view value) {
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(Sv(value.substr(0, kBearer.size())), Sv(kBearer)) ||
      value[kBearer.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view token = value.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (c == ' ' || c == '\t') return std::nullopt;
  }
  return token;
}

}  // namespace

bool Caller::IsAdminOf(std::string_view directory_id) const {
  return kind == Kind::kUser && !directory_id.empty() && claims.directory_id == directory_id &&
         claims.HasRole(kAdminRole);
}

bool Caller::IsUser(std::string_view user_id) const {
  return kind == Kind::kUser && !user_id.empty() && claims.subject == user_id;
}

std::string Caller::Actor() const {
  switch (kind) {
    case Kind::kPlatform:
      return "platform";
    case Kind::kUser:
      return absl::StrCat("user:", claims.subject);
    case Kind::kAnonymous:
      break;
  }
  return "cluster";
}

Authenticator::Authenticator(AuthenticatorOptions options) : options_(std::move(options)) {}

Authenticator::Authenticator(std::string platform_key,
                             std::shared_ptr<const TokenVerifier> verifier,
                             std::shared_ptr<const RevocationChecker> revocations)
    : Authenticator([&] {
        AuthenticatorOptions options;
        options.platform_key = std::move(platform_key);
        options.verifier = std::move(verifier);
        options.revocations = std::move(revocations);
        return options;
      }()) {}

absl::StatusOr<Caller> Authenticator::Authenticate(
    std::optional<std::string_view> platform_key_header,
    std::optional<std::string_view> authorization_header, const Peer& peer,
    absl::string_view method) const {
  // Credentials first (token valid → caller allowed), so a forged token is UNAUTHENTICATED
  // whatever the certificate.
  absl::StatusOr<Caller> caller = Identify(platform_key_header, authorization_header);
  if (!caller.ok()) return caller;
  caller->peer = peer;
  if (absl::Status s = options_.cluster_callers.Check(method, peer,
                                                      caller->kind != Caller::Kind::kAnonymous);
      !s.ok()) {
    return s;
  }
  return caller;
}

absl::StatusOr<Caller> Authenticator::Identify(
    std::optional<std::string_view> platform_key_header,
    std::optional<std::string_view> authorization_header) const {
  if (platform_key_header.has_value() && authorization_header.has_value()) {
    return absl::UnauthenticatedError("send either a platform key or a session token, not both");
  }
  if (platform_key_header.has_value()) {
    // An unset key must not match an empty header, hence the explicit check.
    if (options_.platform_key.empty() ||
        !ConstantTimeEquals(*platform_key_header, options_.platform_key)) {
      return absl::UnauthenticatedError("invalid platform key");
    }
    return Caller::Platform();
  }
  if (authorization_header.has_value()) {
    std::optional<std::string_view> token = BearerToken(*authorization_header);
    if (!token.has_value()) {
      return absl::UnauthenticatedError("authorization must be \"Bearer <session token>\"");
    }
    if (options_.verifier == nullptr) {
      return absl::UnauthenticatedError("session tokens are not accepted here");
    }
    absl::StatusOr<SessionClaims> claims = options_.verifier->Verify(*token);
    if (!claims.ok()) {
      // Verify already answers UNAUTHENTICATED; the code is pinned here all the same.
      return absl::UnauthenticatedError(claims.status().message());
    }
    // Only signed, unexpired tokens get here, so a forged one never costs a store round trip.
    if (options_.revocations != nullptr) {
      absl::StatusOr<bool> revoked = options_.revocations->IsRevoked(*claims);
      if (!revoked.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot check whether the session was revoked: ",
                                                   revoked.status().message()));
      }
      if (*revoked) return absl::UnauthenticatedError("invalid session token: revoked");
    }
    Caller caller = Caller::User(*std::move(claims));
    caller.fresh =
        options_.clock->Now() - caller.claims.auth_time <= options_.reauth_max_age;
    return caller;
  }
  return Caller::Anonymous();
}

absl::Status RequirePlatform(const Caller& caller) {
  switch (caller.kind) {
    case Caller::Kind::kPlatform:
      return absl::OkStatus();
    case Caller::Kind::kUser:
      return absl::PermissionDeniedError("this call needs the platform key, not a session token");
    case Caller::Kind::kAnonymous:
      break;
  }
  return CredentialsRequired();
}

absl::Status RequireAdmin(const Caller& caller, std::string_view directory_id) {
  switch (caller.kind) {
    case Caller::Kind::kUser:
      if (caller.IsAdminOf(directory_id)) return absl::OkStatus();
      if (caller.claims.directory_id != directory_id) {
        return OtherDirectory();
      }
      return absl::PermissionDeniedError(
          absl::StrCat("caller is not an admin of directory ", Sv(directory_id)));
    case Caller::Kind::kPlatform:
      return absl::PermissionDeniedError(
          "this call needs a directory admin's session token; the platform key is not enough");
    case Caller::Kind::kAnonymous:
      break;
  }
  return CredentialsRequired();
}

absl::Status RequireAdminOrPlatform(const Caller& caller, std::string_view directory_id) {
  if (caller.kind == Caller::Kind::kPlatform) return absl::OkStatus();
  return RequireAdmin(caller, directory_id);
}

absl::Status RequireAdminIfSessionToken(const Caller& caller, std::string_view directory_id) {
  if (caller.kind != Caller::Kind::kUser) return absl::OkStatus();
  return RequireAdmin(caller, directory_id);
}

absl::Status RequireSelfOrAdmin(const Caller& caller, std::string_view directory_id,
                                std::string_view user_id) {
  switch (caller.kind) {
    case Caller::Kind::kUser:
      // Self means the same user in the same directory, so a token can never reach across.
      if (caller.IsUser(user_id) && !directory_id.empty() &&
          caller.claims.directory_id == directory_id) {
        return absl::OkStatus();
      }
      if (caller.IsAdminOf(directory_id)) return absl::OkStatus();
      if (caller.claims.directory_id != directory_id) {
        return OtherDirectory();
      }
      return absl::PermissionDeniedError(
          "only the user themself or an admin of the directory may do this");
    case Caller::Kind::kPlatform:
      return absl::PermissionDeniedError(
          "this call needs the user's or a directory admin's session token");
    case Caller::Kind::kAnonymous:
      break;
  }
  return CredentialsRequired();
}

absl::Status RequireOwnDirectory(const Caller& caller, std::string_view directory_id) {
  if (caller.kind != Caller::Kind::kUser || caller.claims.directory_id == directory_id) {
    return absl::OkStatus();
  }
  return OtherDirectory();
}

}  // namespace tally
