#include "common/auth/revocation.h"

#include "absl/strings/str_cat.h"

namespace tally {

std::string RevokedSessionKey(absl::string_view directory_id, absl::string_view session_id) {
  return absl::StrCat("{", directory_id, "}:revoked:", session_id);
}

std::string RevokedFamilyKey(absl::string_view directory_id, absl::string_view family_id) {
  return absl::StrCat("{", directory_id, "}:revoked-family:", family_id);
}

std::string UserRevokedKey(absl::string_view directory_id, absl::string_view user_id) {
  return absl::StrCat("{", directory_id, "}:user-revoked:", user_id);
}

absl::Time SessionRecordsExpiry(const SessionClaims& claims) {
  return claims.expires_at + kTokenLeeway;
}

absl::Time UserMarkExpiry(absl::Time at) { return at + kMaxSessionLifetime + kTokenLeeway; }

bool EndedByUserMark(const SessionClaims& claims, absl::Time at) {
  return absl::ToUnixMillis(claims.issued_at) <= absl::ToUnixMillis(at);
}

}  // namespace tally
