#include "common/util/deadline.h"

#include <algorithm>

namespace tally {
namespace {

// absl::Time is trivially destructible, so a plain thread_local costs no TLS guard.
thread_local absl::Time current_deadline = absl::InfiniteFuture();

}  // namespace

absl::Time CurrentDeadline() { return current_deadline; }

ScopedDeadline::ScopedDeadline(absl::Time deadline) : previous_(current_deadline) {
  current_deadline = std::min(previous_, deadline);
}

ScopedDeadline::~ScopedDeadline() { current_deadline = previous_; }

ScopedDeadlineLift::ScopedDeadlineLift() : previous_(current_deadline) {
  current_deadline = absl::InfiniteFuture();
}

ScopedDeadlineLift::~ScopedDeadlineLift() { current_deadline = previous_; }

}  // namespace tally
