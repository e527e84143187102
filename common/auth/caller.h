#pragma once

// Who is calling (API.md "Who may call"), and the checks every service runs on it. Kept free of
// gRPC: the server layer reads the two metadata headers and the peer's certificate and hands
// them in.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/cluster_callers.h"
#include "common/auth/jwt.h"
#include "common/auth/revocation.h"
#include "common/util/clock.h"

namespace tally {

// Metadata keys (gRPC lower-cases them).
inline constexpr std::string_view kPlatformKeyHeader = "x-tally-platform-key";
inline constexpr std::string_view kAuthorizationHeader = "authorization";

struct Caller {
  enum class Kind {
    kAnonymous,  // "cluster": reached us with no credentials at all
    kPlatform,   // presented the platform key
    kUser,       // presented a valid session token
  };

  Kind kind = Kind::kAnonymous;
  SessionClaims claims;  // kUser only
  // kUser only: the token's auth_time was at most --reauth_max_age old when the call came in
  // (set by the Authenticator). RequireFreshAuthentication (common/auth/freshness.h) reads it.
  bool fresh = false;
  // Who the transport says is calling (mutual TLS), whatever the credentials.
  Peer peer;

  static Caller Anonymous() { return Caller{}; }
  static Caller Platform() {
    Caller caller;
    caller.kind = Kind::kPlatform;
    return caller;
  }
  static Caller User(SessionClaims claims) {
    Caller caller;
    caller.kind = Kind::kUser;
    caller.claims = std::move(claims);
    return caller;
  }

  // A user whose token is for `directory_id` and holds the "admin" role.
  bool IsAdminOf(std::string_view directory_id) const;
  // A user whose token's subject is `user_id`.
  bool IsUser(std::string_view user_id) const;
  // For audit trails: "platform", "user:<sub>" or "cluster".
  std::string Actor() const;
};

// How long ago a user's own sensitive change may have been proven (--reauth_max_age).
inline constexpr absl::Duration kDefaultReauthMaxAge = absl::Minutes(5);

struct AuthenticatorOptions {
  // Empty: platform access is disabled.
  std::string platform_key;
  // Null: every bearer token is refused (for a service that takes no user calls).
  std::shared_ptr<const TokenVerifier> verifier;
  // Every valid token is also looked up here: a revoked one is UNAUTHENTICATED "invalid session
  // token: revoked", and when the lookup fails the call is UNAVAILABLE (fail closed: never
  // accepted unchecked). Services that take tokens always have one (AuthenticatorFromFlags
  // refuses to start without); null only in tests of other parts.
  std::shared_ptr<const RevocationChecker> revocations;
  // Sets Caller::fresh.
  absl::Duration reauth_max_age = kDefaultReauthMaxAge;
  // Who may make the service's cluster calls under mutual TLS.
  ClusterCallers cluster_callers;
  // For Caller::fresh; must outlive the Authenticator.
  const Clock* clock = &SystemClock::Get();
};

class Authenticator {
 public:
  explicit Authenticator(AuthenticatorOptions options);
  // The same with the other options' defaults.
  Authenticator(std::string platform_key, std::shared_ptr<const TokenVerifier> verifier,
                std::shared_ptr<const RevocationChecker> revocations = nullptr);

  // Arguments are the raw values of `x-tally-platform-key` and `authorization`, nullopt when the
  // header is absent, what the transport says about the peer, and the called RPC's full name
  // ("tally.credential.v1.CredentialService.VerifyPassword") for the cluster rules. No header:
  // kAnonymous. A header that is present but wrong is always UNAUTHENTICATED, never a silent
  // fall-back to anonymous; so are both headers at once (one call, one identity).
  // `authorization` must be "Bearer <token>" (scheme case-insensitive). Then the cluster rule
  // of `method` (ClusterCallers::Check): PERMISSION_DENIED for a certificate it does not name.
  absl::StatusOr<Caller> Authenticate(std::optional<std::string_view> platform_key_header,
                                      std::optional<std::string_view> authorization_header,
                                      const Peer& peer = {},
                                      absl::string_view method = "") const;

  bool accepts_tokens() const { return options_.verifier != nullptr; }
  bool enforces_revocation() const { return options_.revocations != nullptr; }
  absl::Duration reauth_max_age() const { return options_.reauth_max_age; }
  const ClusterCallers& cluster_callers() const { return options_.cluster_callers; }

 private:
  absl::StatusOr<Caller> Identify(std::optional<std::string_view> platform_key_header,
                                  std::optional<std::string_view> authorization_header) const;

  AuthenticatorOptions options_;
};

// Authorization checks, one per row shape of API.md's "who may call" column. Anonymous where
// credentials are needed → UNAUTHENTICATED "credentials required"; a known caller without the
// right → PERMISSION_DENIED. Calls open to the cluster need no check.

// Operators' automation only (CreateDirectory, ListDirectories).
absl::Status RequirePlatform(const Caller& caller);
// An admin of `directory_id`; the platform is not enough (ListUsers, SetRoles, DeleteUser).
absl::Status RequireAdmin(const Caller& caller, std::string_view directory_id);
// An admin of `directory_id` or the platform (CreateUser, UpdateAuthSettings, ListAuditEvents).
absl::Status RequireAdminOrPlatform(const Caller& caller, std::string_view directory_id);
// A call open to the cluster and the platform that a session token may make only as an admin
// of `directory_id` (GetDirectory, GetAuthSettings: "platform, cluster, directory admin"). Other
// callers pass (the cluster rules and the platform key were checked before).
absl::Status RequireAdminIfSessionToken(const Caller& caller, std::string_view directory_id);
// The user `user_id` of `directory_id` themself, or an admin of that directory (UpdateContact,
// SetPassword, ListPasskeys, DeletePasskey). The platform is refused, as API.md lists "the user,
// directory admin" only: operators act through an admin account, which the audit trail names.
absl::Status RequireSelfOrAdmin(const Caller& caller, std::string_view directory_id,
                                std::string_view user_id);
// A call open to callers without credentials (the cluster) that acts in `directory_id`
// (GetUser, FindUser): a session token, when the call carries one, only for its own directory.
// Other callers pass (the cluster rules and the platform key were checked before). PERMISSION_DENIED
// for a token of another directory: a token never reaches across directories.
absl::Status RequireOwnDirectory(const Caller& caller, std::string_view directory_id);

}  // namespace tally
