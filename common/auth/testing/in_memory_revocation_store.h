#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/revocation.h"
#include "common/util/clock.h"

namespace tally::testing {

// RevocationStore in memory, for unit tests: the same records, keys and rules as
// RedisRevocationStore (the revocation store contract runs on both), records expiring by the
// injected clock as Redis's TTLs would, and a switch that makes it fail like a store that is
// down.
class InMemoryRevocationStore final : public RevocationStore {
 public:
  // `clock` must outlive the store.
  explicit InMemoryRevocationStore(const Clock& clock) : clock_(clock) {}

  absl::StatusOr<bool> IsRevoked(const SessionClaims& claims) const override;
  absl::Status RevokeSession(const SessionClaims& claims) override;
  absl::Status RevokeUser(absl::string_view directory_id, absl::string_view user_id,
                          absl::Time at) override;

  // Every later call answers `status` until it is set back to OK.
  void Fail(absl::Status status);
  // IsRevoked calls so far.
  int64_t lookups() const;
  // What is left of the record at `key` (revocation.h's keys); NOT_FOUND when there is none.
  absl::StatusOr<absl::Duration> TimeToLive(absl::string_view key) const;

 private:
  struct Record {
    absl::Time value;  // the mark of a user record
    absl::Time until;
  };
  // The live record at `key`, or null.
  const Record* Find(const std::string& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Record, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  mutable int64_t lookups_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tally::testing
