#include "services/orchestrator/testing/in_memory_login_store.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tally::orchestrator::testing {
namespace {

// Times as the Redis stores keep them: whole milliseconds.
absl::Time Stored(absl::Time t) { return absl::FromUnixMillis(absl::ToUnixMillis(t)); }

std::string LockKey(absl::string_view directory_id, absl::string_view subject) {
  return absl::StrCat(directory_id, "/", subject);
}

// What RedisLoginStore::Create writes of a record: no code, ceremony, step or session yet.
LoginRecord AsCreated(const LoginRecord& r) {
  LoginRecord stored;
  stored.login_id = r.login_id;
  stored.directory_id = r.directory_id;
  stored.username = r.username;
  stored.client_ip = r.client_ip;
  stored.subject = r.subject;
  stored.candidate_user_id = r.candidate_user_id;
  stored.user_id = r.user_id;
  stored.caps = r.caps;
  stored.step_up_level = std::max(0, r.step_up_level);
  stored.min_level = std::max(0, r.min_level);
  stored.device_token = r.device_token;
  stored.family_id = r.family_id;
  if (!r.family_id.empty()) stored.family_expire_time = Stored(r.family_expire_time);
  for (const auto& [method, at] : r.completed) stored.completed[method] = Stored(at);
  for (const auto& [method, at] : r.carried) stored.carried[method] = Stored(at);
  stored.passkey_synced = r.passkey_synced;
  stored.create_time = Stored(r.create_time);
  stored.expire_time = Stored(r.expire_time);
  return stored;
}

}  // namespace

InMemoryLoginStore::InMemoryLoginStore(LockoutPolicy policy, const Clock& clock)
    : policy_(policy), clock_(clock) {}

int64_t InMemoryLoginStore::operations() const {
  absl::MutexLock lock(&mu_);
  return operations_;
}

InMemoryLoginStore::StoredLogin* InMemoryLoginStore::FindLogin(const std::string& key) {
  auto it = logins_.find(key);
  if (it == logins_.end()) return nullptr;
  if (clock_.Now() >= it->second.expires_at) {
    logins_.erase(it);
    return nullptr;
  }
  return &it->second;
}

InMemoryLoginStore::Lock& InMemoryLoginStore::LockOf(const std::string& key) {
  Lock& lock = locks_[key];
  const absl::Time now = clock_.Now();
  if (now >= lock.expires_at) {  // the counters' TTL ran out (or they never existed)
    std::map<std::string, absl::Time> pending = std::move(lock.pending);
    const absl::Time pending_expires_at = lock.pending_expires_at;
    lock = Lock{};
    lock.pending = std::move(pending);  // a key of its own, with its own TTL
    lock.pending_expires_at = pending_expires_at;
  }
  if (now >= lock.pending_expires_at) lock.pending.clear();
  return lock;
}

InMemoryLoginStore::Lock* InMemoryLoginStore::FindLock(const std::string& key) {
  if (!locks_.contains(key)) return nullptr;
  return &LockOf(key);
}

void InMemoryLoginStore::Settle(absl::string_view directory_id, const LoginUpdate& update,
                                bool login_succeeded) {
  if (!update.lockout_success.has_value()) return;
  Lock* lock = FindLock(LockKey(directory_id, update.lockout_success->subject));
  if (lock == nullptr) return;
  lock->pending.erase(update.lockout_success->reservation_id);
  if (login_succeeded && !lock->permanent) ClearLock(*lock);
}

bool InMemoryLoginStore::ClearLock(Lock& lock) {
  const bool permanent = lock.permanent;
  const std::optional<absl::Time> lock_start = lock.lock_start;
  std::map<std::string, absl::Time> pending = std::move(lock.pending);
  const absl::Time pending_expires_at = lock.pending_expires_at;
  lock = Lock{};
  lock.pending = std::move(pending);
  lock.pending_expires_at = pending_expires_at;
  if (lock_start.has_value()) {
    lock.lock_start = lock_start;
    lock.expires_at = clock_.Now() + kLockStartMemory;
  }
  return permanent;
}

bool InMemoryLoginStore::Ended(const Lock* lock, absl::Time login_created) {
  return lock != nullptr && lock->lock_start.has_value() &&
         login_created != absl::InfiniteFuture() && Stored(login_created) <= *lock->lock_start;
}

LockOutcome InMemoryLoginStore::CountFailure(const std::string& key, AuthMethod method,
                                             absl::string_view reservation_id, absl::Time now,
                                             const LockoutPolicy& policy) {
  Lock& lock = LockOf(key);
  lock.pending.erase(std::string(reservation_id));
  const int fails = ++lock.fails[method];
  ++lock.total;
  LockOutcome outcome;
  if (lock.total >= policy.permanent_threshold || lock.permanent) {
    if (!lock.permanent) {
      outcome.newly_permanent = true;
      lock.permanent = true;
      lock.until = Stored(now) + kPermanentLock;
      lock.lock_start = Stored(now);
      lock.expires_at = absl::InfiniteFuture();
    }
    outcome.locked = true;
    outcome.permanent = true;
    outcome.retry_after = kPermanentLock;
    return outcome;
  }
  if (fails >= policy.threshold) {
    // first * 2^(fails - threshold), at most max.
    const double first_ms = absl::ToInt64Milliseconds(policy.first_lock);
    const double max_ms = absl::ToInt64Milliseconds(policy.max_lock);
    const int doublings = fails - policy.threshold;
    const double ms =
        doublings < 40 ? std::min(max_ms, first_ms * std::pow(2.0, doublings)) : max_ms;
    outcome.locked = true;
    outcome.retry_after = absl::Milliseconds(static_cast<int64_t>(ms));
    lock.until = Stored(now) + outcome.retry_after;
    lock.lock_start = Stored(now);
    lock.expires_at = clock_.Now() + policy.forget_after + outcome.retry_after;
    return outcome;
  }
  lock.expires_at = clock_.Now() + policy.forget_after;
  outcome.attempts_left =
      std::min(policy.threshold - fails, policy.permanent_threshold - lock.total);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// LoginStore

absl::StatusOr<absl::Duration> InMemoryLoginStore::Create(const LoginRecord& record,
                                                          absl::Duration ttl) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  if (FindLogin(record.login_id) != nullptr) {
    return absl::AlreadyExistsError("login id collision");
  }
  logins_[record.login_id] =
      StoredLogin{AsCreated(record), clock_.Now() + std::max(absl::Milliseconds(1), ttl)};
  if (record.subject.empty()) return absl::ZeroDuration();
  const Lock* subject_lock = FindLock(LockKey(record.directory_id, record.subject));
  if (subject_lock == nullptr || subject_lock->until <= record.create_time) {
    return absl::ZeroDuration();
  }
  return subject_lock->until - record.create_time;
}

absl::StatusOr<LoginRecord> InMemoryLoginStore::Get(absl::string_view login_id) {
  if (absl::Status s = DirectoryOfLoginId(login_id).status(); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  ++operations_;
  const StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) return LoginNotFoundError();
  return login->record;
}

absl::StatusOr<LoginRecord> InMemoryLoginStore::Update(absl::string_view login_id,
                                                       const LoginUpdate& update) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::MutexLock lock(&mu_);
  ++operations_;
  Settle(*directory, update, /*login_succeeded=*/false);
  StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) return LoginNotFoundError();
  if (login->record.finished()) return LoginFinishedError();
  ApplyUpdate(update, login->record);
  return login->record;
}

absl::StatusOr<bool> InMemoryLoginStore::ClaimDeviceRemembering(absl::string_view login_id) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) return LoginNotFoundError();
  if (!login->record.finished()) {
    return absl::FailedPreconditionError("the login has not succeeded");
  }
  return !std::exchange(login->device_claimed, true);
}

absl::StatusOr<GuardedUpdate> InMemoryLoginStore::GuardedUpdateChecked(absl::string_view login_id,
                                                                       const LoginUpdate& update,
                                                                       absl::string_view subject,
                                                                       absl::Time now) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::MutexLock lock(&mu_);
  ++operations_;
  StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) return LoginNotFoundError();
  if (login->record.finished()) return LoginFinishedError();
  const Lock* subject_lock = FindLock(LockKey(*directory, subject));
  const absl::Duration left = subject_lock != nullptr && subject_lock->until > Stored(now)
                                  ? subject_lock->until - now
                                  : absl::ZeroDuration();
  if (Ended(subject_lock, login->record.create_time)) {
    return GuardedUpdate{login->record, EndedLoginLockedFor(left)};
  }
  if (left > absl::ZeroDuration()) return GuardedUpdate{login->record, left};
  ApplyUpdate(update, login->record);
  return GuardedUpdate{login->record, absl::ZeroDuration()};
}

absl::StatusOr<Rejection> InMemoryLoginStore::RejectChecked(absl::string_view login_id,
                                                            const LoginUpdate& update,
                                                            const LockoutFailure& failure) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::MutexLock lock(&mu_);
  ++operations_;
  Rejection rejection;
  rejection.outcome = CountFailure(LockKey(*directory, failure.subject), failure.method,
                                   failure.reservation_id, failure.now, failure.policy);
  int shown = rejection.outcome.attempts_left;
  if (failure.factor_attempts_left.has_value()) {
    shown = std::min(shown, *failure.factor_attempts_left);
  }
  rejection.attempts_left = std::max(0, shown);
  StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) {
    rejection.record = LoginNotFoundError();
  } else if (login->record.finished()) {
    rejection.record = LoginFinishedError();
  } else {
    LoginUpdate shown_update = update;
    shown_update.last_step->attempts_left = rejection.attempts_left;
    ApplyUpdate(shown_update, login->record);
    rejection.record = login->record;
  }
  return rejection;
}

absl::StatusOr<FinishResult> InMemoryLoginStore::Finish(absl::string_view login_id,
                                                        absl::string_view token,
                                                        absl::string_view session_id,
                                                        absl::Time session_expire_time,
                                                        const LoginUpdate& update) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::MutexLock lock(&mu_);
  ++operations_;
  StoredLogin* login = FindLogin(std::string(login_id));
  Settle(*directory, update,
         /*login_succeeded=*/login != nullptr && !login->record.finished());
  if (login == nullptr) return LoginNotFoundError();
  FinishResult result;
  if (!login->record.finished()) {
    ApplyUpdate(update, login->record);
    login->record.session_token = std::string(token);
    login->record.session_id = std::string(session_id);
    login->record.session_expire_time = Stored(session_expire_time);
    result.won = true;
  }
  result.record = login->record;
  return result;
}

// ---------------------------------------------------------------------------------------------
// LockoutStore

absl::StatusOr<Reservation> InMemoryLoginStore::Reserve(absl::string_view directory_id,
                                                        absl::string_view subject, absl::Time now,
                                                        absl::Time login_created) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  Lock& subject_lock = LockOf(LockKey(directory_id, subject));
  const absl::Time at = Stored(now);
  std::erase_if(subject_lock.pending, [&](const auto& entry) { return entry.second <= at; });
  Reservation reservation;
  const absl::Duration left =
      at < subject_lock.until ? subject_lock.until - at : absl::ZeroDuration();
  if (Ended(&subject_lock, login_created)) {
    reservation.retry_after = EndedLoginLockedFor(left);
    return reservation;
  }
  if (left > absl::ZeroDuration() || subject_lock.permanent) {
    reservation.retry_after = left;
    return reservation;
  }
  // Checks allowed at once = failures left before a lock, of the method with the most and in
  // total (one after a lock has run out).
  int worst = 0;
  for (const auto& [method, fails] : subject_lock.fails) worst = std::max(worst, fails);
  const int allowed = std::max(
      1, std::min(policy_.threshold - worst, policy_.permanent_threshold - subject_lock.total));
  if (static_cast<int>(subject_lock.pending.size()) >= allowed) {
    reservation.retry_after = policy_.busy_retry_after;
    return reservation;
  }
  reservation.granted = true;
  reservation.id = absl::StrCat("rsv_", ++reservations_);
  subject_lock.pending[reservation.id] = at + policy_.reservation_ttl;
  subject_lock.pending_expires_at = clock_.Now() + policy_.reservation_ttl;
  return reservation;
}

absl::StatusOr<LockOutcome> InMemoryLoginStore::RecordFailure(absl::string_view directory_id,
                                                              absl::string_view subject,
                                                              AuthMethod method,
                                                              absl::string_view reservation_id,
                                                              absl::Time now) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  return CountFailure(LockKey(directory_id, subject), method, reservation_id, now, policy_);
}

absl::Status InMemoryLoginStore::Cancel(absl::string_view directory_id, absl::string_view subject,
                                        absl::string_view reservation_id) {
  if (reservation_id.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  ++operations_;
  if (Lock* subject_lock = FindLock(LockKey(directory_id, subject)); subject_lock != nullptr) {
    subject_lock->pending.erase(std::string(reservation_id));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> InMemoryLoginStore::LockedFor(absl::string_view directory_id,
                                                             absl::string_view subject,
                                                             absl::Time now,
                                                             absl::Time login_created) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  const Lock* subject_lock = FindLock(LockKey(directory_id, subject));
  const absl::Duration left = subject_lock == nullptr || subject_lock->until <= now
                                  ? absl::ZeroDuration()
                                  : subject_lock->until - now;
  return Ended(subject_lock, login_created) ? EndedLoginLockedFor(left) : left;
}

absl::StatusOr<int> InMemoryLoginStore::AttemptsLeft(absl::string_view directory_id,
                                                     absl::string_view subject) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  const Lock* subject_lock = FindLock(LockKey(directory_id, subject));
  int worst = 0;
  int total = 0;
  if (subject_lock != nullptr) {
    for (const auto& [method, fails] : subject_lock->fails) worst = std::max(worst, fails);
    total = subject_lock->total;
  }
  return std::max(1, std::min(policy_.threshold - worst, policy_.permanent_threshold - total));
}

absl::StatusOr<bool> InMemoryLoginStore::Unlock(absl::string_view directory_id,
                                                absl::string_view subject) {
  absl::MutexLock lock(&mu_);
  ++operations_;
  Lock* subject_lock = FindLock(LockKey(directory_id, subject));
  if (subject_lock == nullptr) return false;
  subject_lock->pending.clear();
  return ClearLock(*subject_lock);
}

// ---------------------------------------------------------------------------------------------
// Inspection

int InMemoryLoginStore::PendingChecks(absl::string_view directory_id, absl::string_view subject) {
  absl::MutexLock lock(&mu_);
  const Lock* subject_lock = FindLock(LockKey(directory_id, subject));
  return subject_lock == nullptr ? 0 : static_cast<int>(subject_lock->pending.size());
}

int InMemoryLoginStore::Failures(absl::string_view directory_id, absl::string_view subject) {
  absl::MutexLock lock(&mu_);
  const Lock* subject_lock = FindLock(LockKey(directory_id, subject));
  int worst = 0;
  if (subject_lock != nullptr) {
    for (const auto& [method, fails] : subject_lock->fails) worst = std::max(worst, fails);
  }
  return worst;
}

absl::StatusOr<absl::Duration> InMemoryLoginStore::TimeToLive(absl::string_view login_id) {
  absl::MutexLock lock(&mu_);
  const StoredLogin* login = FindLogin(std::string(login_id));
  if (login == nullptr) return LoginNotFoundError();
  return login->expires_at - clock_.Now();
}

// ---------------------------------------------------------------------------------------------
// InMemoryStartLimiter

absl::StatusOr<absl::Duration> InMemoryStartLimiter::Acquire(absl::string_view directory_id,
                                                             absl::string_view client_key,
                                                             absl::Time now) {
  const int64_t window_ms = absl::ToInt64Milliseconds(kStartLimitWindow);
  const int64_t now_ms = absl::ToUnixMillis(now);
  const int64_t window = now_ms / window_ms;
  const absl::Duration left = absl::Milliseconds((window + 1) * window_ms - now_ms);
  absl::MutexLock lock(&mu_);
  int& directory = counts_[{std::string(directory_id), window, ""}];
  if (limits_.per_directory_per_minute > 0 && directory >= limits_.per_directory_per_minute) {
    return left;
  }
  const bool per_client = !client_key.empty() && limits_.per_client_per_minute > 0;
  int* client = per_client
                    ? &counts_[{std::string(directory_id), window, absl::StrCat("ip:", client_key)}]
                    : nullptr;
  if (client != nullptr && *client >= limits_.per_client_per_minute) return left;
  ++directory;
  if (client != nullptr) ++*client;
  return absl::ZeroDuration();
}

}  // namespace tally::orchestrator::testing
