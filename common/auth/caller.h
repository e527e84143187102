#pragma once

// Who is calling (API.md "Who may call"), and the checks every service runs on it. Kept free of
// gRPC: the server layer reads the two metadata headers and hands them in.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth/jwt.h"
#include "common/auth/revocation.h"

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

  static Caller Anonymous() { return Caller{}; }
  static Caller Platform() { return Caller{Kind::kPlatform, {}}; }
  static Caller User(SessionClaims claims) { return Caller{Kind::kUser, std::move(claims)}; }

  // A user whose token is for `directory_id` and holds the "admin" role.
  bool IsAdminOf(std::string_view directory_id) const;
  // A user whose token's subject is `user_id`.
  bool IsUser(std::string_view user_id) const;
  // For audit trails: "platform", "user:<sub>" or "cluster".
  std::string Actor() const;
};

class Authenticator {
 public:
  // An empty `platform_key` disables platform access. A null `verifier` refuses every bearer
  // token (for a service that takes no user calls). With `revocations`, every valid token is
  // also looked up there: a revoked one is UNAUTHENTICATED "invalid session token: revoked", and
  // when the lookup fails the call is UNAVAILABLE (fail closed: never accepted unchecked). A null
  // `revocations` does not enforce revocation (tokens live until they expire).
  Authenticator(std::string platform_key, std::shared_ptr<const JwtVerifier> verifier,
                std::shared_ptr<const RevocationChecker> revocations = nullptr);

  // Arguments are the raw values of `x-tally-platform-key` and `authorization`, nullopt when the
  // header is absent. No header: kAnonymous. A header that is present but wrong is always
  // UNAUTHENTICATED, never a silent fall-back to anonymous; so are both headers at once (one call,
  // one identity). `authorization` must be "Bearer <token>" (scheme case-insensitive).
  absl::StatusOr<Caller> Authenticate(std::optional<std::string_view> platform_key_header,
                                      std::optional<std::string_view> authorization_header) const;

  bool accepts_tokens() const { return verifier_ != nullptr; }
  bool enforces_revocation() const { return revocations_ != nullptr; }

 private:
  std::string platform_key_;
  std::shared_ptr<const JwtVerifier> verifier_;
  std::shared_ptr<const RevocationChecker> revocations_;
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
// The user `user_id` of `directory_id` themself, or an admin of that directory (UpdateContact,
// SetPassword, ListPasskeys, DeletePasskey). The platform is refused, as API.md lists "the user,
// directory admin" only: operators act through an admin account, which the audit trail names.
absl::Status RequireSelfOrAdmin(const Caller& caller, std::string_view directory_id,
                                std::string_view user_id);

}  // namespace tally
