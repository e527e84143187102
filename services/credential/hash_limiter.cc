#include "services/credential/hash_limiter.h"

#include <algorithm>

namespace tally::credential {
namespace {

absl::Status Busy() {
  return absl::ResourceExhaustedError(
      "too many password checks in progress; try again in a moment");
}

}  // namespace

HashLimiter::HashLimiter(int max_running, int max_waiting, const Clock& clock)
    : max_running_(std::max(1, max_running)),
      max_waiting_(static_cast<size_t>(std::max(0, max_waiting))),
      clock_(clock) {}

absl::Status HashLimiter::Refusal(absl::Time now, absl::Time deadline) const {
  // The slot must come early enough for the work itself to finish by the deadline.
  const absl::Time start_by = deadline - typical_hold_;
  if (queue_.empty() && running_ < max_running_) {
    return now > start_by ? Busy() : absl::OkStatus();
  }
  if (queue_.size() >= max_waiting_) return Busy();
  // Those queued ahead and this caller start in waves of max_running_, each wave about one
  // hold after the previous one.
  const int64_t waves = static_cast<int64_t>(queue_.size()) / max_running_ + 1;
  return now + waves * typical_hold_ > start_by ? Busy() : absl::OkStatus();
}

absl::Status HashLimiter::Admits(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  return Refusal(clock_.Now(), deadline);
}

absl::StatusOr<HashLimiter::Slot> HashLimiter::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (absl::Status refused = Refusal(now, deadline); !refused.ok()) return refused;
  if (queue_.empty() && running_ < max_running_) {
    ++running_;
    return Slot(this, now);
  }
  const absl::Time start_by = deadline - typical_hold_;
  Waiter waiter;
  queue_.push_back(&waiter);
  const absl::Condition granted(&waiter.granted);
  if (start_by == absl::InfiniteFuture()) {
    mu_.Await(granted);
  } else {
    // Waits in real time for as long as the clock says is left.
    mu_.AwaitWithTimeout(granted, start_by - now);
  }
  if (!waiter.granted) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), &waiter));
    return Busy();
  }
  return Slot(this, clock_.Now());
}

void HashLimiter::Release(absl::Time start) {
  absl::MutexLock lock(&mu_);
  const absl::Duration held = std::max(absl::ZeroDuration(), clock_.Now() - start);
  // Weight 1/8: follows a change of machine load within a few dozen hashes.
  typical_hold_ =
      typical_hold_ == absl::ZeroDuration() ? held : typical_hold_ + (held - typical_hold_) / 8;
  if (!queue_.empty()) {
    queue_.front()->granted = true;  // the slot passes on; running_ is unchanged
    queue_.pop_front();
    return;
  }
  --running_;
}

int HashLimiter::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int HashLimiter::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

absl::Duration HashLimiter::typical_hold() const {
  absl::MutexLock lock(&mu_);
  return typical_hold_;
}

}  // namespace tally::credential
