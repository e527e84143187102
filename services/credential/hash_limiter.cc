#include "services/credential/hash_limiter.h"

#include <algorithm>

namespace tally::credential {

HashLimiter::HashLimiter(int max_running, int max_waiting)
    : max_running_(std::max(1, max_running)), max_waiting_(std::max(0, max_waiting)) {}

absl::StatusOr<HashLimiter::Slot> HashLimiter::Acquire() {
  absl::MutexLock lock(&mu_);
  const uint64_t waiting = next_ticket_ - serving_ticket_;
  if (waiting == 0 && running_ < max_running_) {
    ++running_;
    return Slot(this);
  }
  if (waiting >= static_cast<uint64_t>(max_waiting_)) {
    return absl::ResourceExhaustedError(
        "too many password checks in progress; try again in a moment");
  }
  const uint64_t ticket = next_ticket_++;
  auto my_turn = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ticket == serving_ticket_ && running_ < max_running_;
  };
  mu_.Await(absl::Condition(&my_turn));
  ++serving_ticket_;
  ++running_;
  return Slot(this);
}

void HashLimiter::Release() {
  absl::MutexLock lock(&mu_);
  --running_;
}

int HashLimiter::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int HashLimiter::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(next_ticket_ - serving_ticket_);
}

}  // namespace tally::credential
