#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tally::credential {

// Bounds concurrent expensive work (Argon2id hashes): at most `max_running` at once, at most
// `max_waiting` callers queued behind them, served first come first served; anyone beyond that
// is refused at once with RESOURCE_EXHAUSTED. Memory stays flat under a flood (each hash holds
// its Argon2 memory only while running) and queued callers wait at most about
// max_waiting / max_running hash durations.
class HashLimiter {
 public:
  // A running slot; released when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : limiter_(other.limiter_) { other.limiter_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limiter_ != nullptr) limiter_->Release();
    }

   private:
    friend class HashLimiter;
    explicit Slot(HashLimiter* limiter) : limiter_(limiter) {}
    HashLimiter* limiter_;
  };

  // max_running >= 1, max_waiting >= 0.
  HashLimiter(int max_running, int max_waiting);

  // A slot now, or after the callers queued before this one; RESOURCE_EXHAUSTED without waiting
  // when every slot is taken and the queue is full.
  absl::StatusOr<Slot> Acquire();

  int running() const;
  int waiting() const;

 private:
  void Release();

  const int max_running_;
  const int max_waiting_;
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  // Tickets make the queue FIFO: a waiter runs when its ticket is next and a slot is free.
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t serving_ticket_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tally::credential
