#include "common/auth/testing/in_memory_revocation_store.h"

#include <algorithm>
#include <utility>

namespace tally::testing {

const InMemoryRevocationStore::Record* InMemoryRevocationStore::Find(
    const std::string& key) const {
  auto it = records_.find(key);
  if (it == records_.end() || clock_.Now() >= it->second.until) return nullptr;
  return &it->second;
}

absl::StatusOr<bool> InMemoryRevocationStore::IsRevoked(const SessionClaims& claims) const {
  absl::MutexLock lock(&mu_);
  ++lookups_;
  if (!status_.ok()) return status_;
  const std::string& dir = claims.directory_id;
  if (Find(RevokedSessionKey(dir, claims.session_id)) != nullptr ||
      Find(RevokedFamilyKey(dir, claims.Family())) != nullptr) {
    return true;
  }
  const Record* mark = Find(UserRevokedKey(dir, claims.subject));
  return mark != nullptr && EndedByUserMark(claims, mark->value);
}

absl::Status InMemoryRevocationStore::RevokeSession(const SessionClaims& claims) {
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return status_;
  const absl::Time until = SessionRecordsExpiry(claims);
  if (until <= clock_.Now()) return absl::OkStatus();
  const std::string& dir = claims.directory_id;
  records_[RevokedSessionKey(dir, claims.session_id)] = Record{absl::InfinitePast(), until};
  records_[RevokedFamilyKey(dir, claims.Family())] = Record{absl::InfinitePast(), until};
  return absl::OkStatus();
}

absl::Status InMemoryRevocationStore::RevokeUser(absl::string_view directory_id,
                                                 absl::string_view user_id, absl::Time at) {
  if (directory_id.empty() || user_id.empty()) {
    return absl::InvalidArgumentError("a user revocation needs the directory and the user");
  }
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) return status_;
  const absl::Time until = UserMarkExpiry(at);
  if (until <= clock_.Now()) return absl::OkStatus();
  const std::string key = UserRevokedKey(directory_id, user_id);
  // Kept to the millisecond, as Redis keeps it.
  const absl::Time mark = absl::FromUnixMillis(absl::ToUnixMillis(at));
  if (const Record* current = Find(key); current != nullptr && current->value >= mark) {
    return absl::OkStatus();
  }
  records_[key] = Record{mark, until};
  return absl::OkStatus();
}

void InMemoryRevocationStore::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  status_ = std::move(status);
}

int64_t InMemoryRevocationStore::lookups() const {
  absl::MutexLock lock(&mu_);
  return lookups_;
}

absl::StatusOr<absl::Duration> InMemoryRevocationStore::TimeToLive(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  const Record* record = Find(std::string(key));
  if (record == nullptr) return absl::NotFoundError("no such record");
  return record->until - clock_.Now();
}

}  // namespace tally::testing
