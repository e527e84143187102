#pragma once

#include <memory>
#include <string>

#include "common/redis/redis_client.h"
#include "services/orchestrator/login_store.h"

namespace tally::orchestrator {

// Logins as Redis hashes `{dir}:login:<id>`, every change one Lua script.
class RedisLoginStore final : public LoginStore {
 public:
  explicit RedisLoginStore(std::shared_ptr<RedisClient> redis);

  absl::StatusOr<absl::Duration> Create(const LoginRecord& record, absl::Duration ttl) override;
  absl::StatusOr<LoginRecord> Get(absl::string_view login_id) override;
  absl::StatusOr<LoginRecord> Update(absl::string_view login_id,
                                     const LoginUpdate& update) override;
  absl::StatusOr<FinishResult> Finish(absl::string_view login_id, absl::string_view token,
                                      absl::string_view session_id,
                                      absl::Time session_expire_time,
                                      const LoginUpdate& update) override;
  absl::StatusOr<bool> ClaimDeviceRemembering(absl::string_view login_id) override;

 private:
  absl::StatusOr<GuardedUpdate> GuardedUpdateChecked(absl::string_view login_id,
                                                     const LoginUpdate& update,
                                                     absl::string_view subject,
                                                     absl::Time now) override;
  absl::StatusOr<Rejection> RejectChecked(absl::string_view login_id, const LoginUpdate& update,
                                          const LockoutFailure& failure) override;

  std::shared_ptr<RedisClient> redis_;
};

// Lockout counters `{dir}:rl:lock:<subject>` (hash: failures per method and in total, until,
// perm, lockt) with the checks in flight in
// `{dir}:rl:lock:<subject>:pending` (sorted set of reservation ids by expiry). Times come from
// the injected clock, never from Redis.
class RedisLockoutStore final : public LockoutStore {
 public:
  RedisLockoutStore(std::shared_ptr<RedisClient> redis, LockoutPolicy policy,
                    RandomSource& random);

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

  int threshold() const override { return policy_.threshold; }
  const LockoutPolicy& policy() const override { return policy_; }

 private:
  std::shared_ptr<RedisClient> redis_;
  const LockoutPolicy policy_;
  RandomSource& random_;
};

// StartLimits as Redis counters per window: `{dir}:rl:start:<window>` for the directory and
// `{dir}:rl:start:<window>:<sha-256 of the client key>` per address (no address in a key name),
// both checked and counted by one script. Times come from the injected clock.
class RedisStartLimiter final : public StartLimiter {
 public:
  RedisStartLimiter(std::shared_ptr<RedisClient> redis, StartLimits limits);

  absl::StatusOr<absl::Duration> Acquire(absl::string_view directory_id,
                                         absl::string_view client_key, absl::Time now) override;

 private:
  std::shared_ptr<RedisClient> redis_;
  const StartLimits limits_;
};

}  // namespace tally::orchestrator
