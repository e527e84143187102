#pragma once

#include <cstdint>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"

namespace tally::credential {

// Bounds concurrent expensive work (Argon2id hashes): at most `max_running` at once, at most
// `max_waiting` callers queued behind them, served first come first served; anyone beyond that
// is refused at once with RESOURCE_EXHAUSTED. Memory stays flat under a flood (each hash holds
// its Argon2 memory only while running) and queued callers wait at most about
// max_waiting / max_running hash durations.
//
// A caller also says by when its answer is still wanted. Work for a caller that has given up is
// work taken from one that has not (under overload it is all the work: congestion collapse), so
// a caller whose turn cannot come early enough to finish by its deadline is refused at once, and
// a queued caller whose turn has not come in time leaves the queue, both with
// RESOURCE_EXHAUSTED. "Early enough" uses the typical time a slot is held, measured as slots are
// released (an exponentially weighted mean); until the first release nobody is refused for it.
class HashLimiter {
 public:
  // A running slot; released when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : limiter_(other.limiter_), start_(other.start_) {
      other.limiter_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limiter_ != nullptr) limiter_->Release(start_);
    }

   private:
    friend class HashLimiter;
    Slot(HashLimiter* limiter, absl::Time start) : limiter_(limiter), start_(start) {}
    HashLimiter* limiter_;
    absl::Time start_;
  };

  // max_running >= 1, max_waiting >= 0; `clock` (the hold times and deadlines) must outlive
  // the limiter.
  HashLimiter(int max_running, int max_waiting, const Clock& clock = SystemClock::Get());

  // A slot now, or after the callers queued before this one; RESOURCE_EXHAUSTED when every
  // slot is taken and the queue is full, or when the slot would come too late to finish by
  // `deadline`.
  absl::StatusOr<Slot> Acquire(absl::Time deadline = absl::InfiniteFuture());
  // What Acquire(deadline) would answer at once if called now, without taking or queueing:
  // OK when it would run or queue. For shedding before other work (a look-up) that is wasted if
  // the hash is refused; Acquire decides.
  absl::Status Admits(absl::Time deadline = absl::InfiniteFuture()) const;

  int running() const;
  int waiting() const;
  // The typical time a slot is held (zero before the first release).
  absl::Duration typical_hold() const;

 private:
  struct Waiter {
    bool granted = false;
  };
  void Release(absl::Time start);
  // The refusal Acquire answers at once, if any; `now` and `deadline` as in Acquire.
  absl::Status Refusal(absl::Time now, absl::Time deadline) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_running_;
  const size_t max_waiting_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  // FIFO; a released slot passes straight to the front waiter (running_ stays the same), so
  // nobody can overtake the queue.
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  absl::Duration typical_hold_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace tally::credential
