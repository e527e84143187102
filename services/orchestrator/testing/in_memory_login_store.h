#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/orchestrator/login_store.h"

namespace tally::orchestrator::testing {

// Logins and their lockout counters in memory, for unit tests (LoginManager's), with the
// semantics of RedisLoginStore and RedisLockoutStore: each operation is one atomic step under one
// mutex, as each Redis operation is one script (or command), including the steps that touch a
// login and a lock at once; TTLs (a login's, a lock's "forget after", a reservation's) run on the
// injected clock. It is both stores because in Redis they share keys: pass it as each.
// login_store_contract.h holds it and the Redis stores to the same cases.
class InMemoryLoginStore final : public LoginStore, public LockoutStore {
 public:
  InMemoryLoginStore(LockoutPolicy policy, const Clock& clock);

  // LoginStore
  absl::StatusOr<absl::Duration> Create(const LoginRecord& record, absl::Duration ttl) override;
  absl::StatusOr<LoginRecord> Get(absl::string_view login_id) override;
  absl::StatusOr<LoginRecord> Update(absl::string_view login_id,
                                     const LoginUpdate& update) override;
  absl::StatusOr<FinishResult> Finish(absl::string_view login_id, absl::string_view token,
                                      absl::string_view session_id, absl::Time session_expire_time,
                                      const LoginUpdate& update) override;
  absl::StatusOr<bool> ClaimDeviceRemembering(absl::string_view login_id) override;

  // LockoutStore
  int threshold() const override { return policy_.threshold; }
  const LockoutPolicy& policy() const override { return policy_; }
  using LockoutStore::LockedFor;
  using LockoutStore::Reserve;
  absl::StatusOr<Reservation> Reserve(absl::string_view directory_id, absl::string_view subject,
                                      absl::Time now, absl::Time login_created) override;
  absl::StatusOr<LockOutcome> RecordFailure(absl::string_view directory_id,
                                            absl::string_view subject, AuthMethod method,
                                            absl::string_view reservation_id,
                                            absl::Time now) override;
  absl::Status Cancel(absl::string_view directory_id, absl::string_view subject,
                      absl::string_view reservation_id) override;
  absl::StatusOr<absl::Duration> LockedFor(absl::string_view directory_id,
                                           absl::string_view subject, absl::Time now,
                                           absl::Time login_created) override;
  absl::StatusOr<int> AttemptsLeft(absl::string_view directory_id,
                                   absl::string_view subject) override;
  absl::StatusOr<bool> Unlock(absl::string_view directory_id, absl::string_view subject) override;

  // Operations that reached the store (each one Redis round trip in the real stores).
  int64_t operations() const;
  // Reservations of `subject` held (not settled or given back; an expired one goes at the next
  // Reserve, as in Redis).
  int PendingChecks(absl::string_view directory_id, absl::string_view subject);
  // The subject's consecutive failures of the method with the most; 0 when none are recorded.
  int Failures(absl::string_view directory_id, absl::string_view subject);
  // How long the login has left before its TTL removes it; NOT_FOUND when it is gone.
  absl::StatusOr<absl::Duration> TimeToLive(absl::string_view login_id);

 private:
  absl::StatusOr<GuardedUpdate> GuardedUpdateChecked(absl::string_view login_id,
                                                     const LoginUpdate& update,
                                                     absl::string_view subject,
                                                     absl::Time now) override;
  absl::StatusOr<Rejection> RejectChecked(absl::string_view login_id, const LoginUpdate& update,
                                          const LockoutFailure& failure) override;

  struct StoredLogin {
    LoginRecord record;
    absl::Time expires_at;  // by the clock
    bool device_claimed = false;  // ClaimDeviceRemembering
  };
  // `{dir}:rl:lock:<subject>` and its `:pending` set.
  struct Lock {
    std::map<AuthMethod, int> fails;            // consecutive failures per method
    int total = 0;                              // consecutive failures of every method
    bool permanent = false;                     // until Unlock
    std::optional<absl::Time> lock_start;       // the latest lock's start (callers' `now`)
    absl::Time until = absl::InfinitePast();    // lock end, by the callers' `now`
    absl::Time expires_at;                      // the whole record's TTL, by the clock
    std::map<std::string, absl::Time> pending;  // reservation id → expiry (callers' `now`)
    absl::Time pending_expires_at;              // the pending set's TTL, by the clock
  };

  // Callers hold mu_. Each returns null when the entry is absent or expired.
  StoredLogin* FindLogin(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Lock* FindLock(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Lock& LockOf(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A right factor: gives the reservation back; with `login_succeeded` also ends the failures
  // (a temporary lock with them).
  void Settle(absl::string_view directory_id, const LoginUpdate& update, bool login_succeeded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Clears the failures and locks but the latest lock's start. True when a permanent lock went.
  bool ClearLock(Lock& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A failure: gives the reservation back, counts it, and locks from the thresholds on.
  LockOutcome CountFailure(const std::string& key, AuthMethod method,
                           absl::string_view reservation_id, absl::Time now,
                           const LockoutPolicy& policy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a login created at `login_created` was ended by the subject's latest lock.
  static bool Ended(const Lock* lock, absl::Time login_created);

  const LockoutPolicy policy_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, StoredLogin> logins_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Lock> locks_ ABSL_GUARDED_BY(mu_);
  int64_t operations_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reservations_ ABSL_GUARDED_BY(mu_) = 0;
};

// StartLimits in memory, with RedisStartLimiter's windows, for unit tests.
class InMemoryStartLimiter final : public StartLimiter {
 public:
  explicit InMemoryStartLimiter(StartLimits limits) : limits_(limits) {}

  absl::StatusOr<absl::Duration> Acquire(absl::string_view directory_id,
                                         absl::string_view client_key, absl::Time now) override;

 private:
  const StartLimits limits_;
  absl::Mutex mu_;
  // (directory, window, client key or "") → starts counted.
  std::map<std::tuple<std::string, int64_t, std::string>, int> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::orchestrator::testing
