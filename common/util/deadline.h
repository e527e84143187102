#pragma once

#include "absl/time/time.h"

namespace tally {

// The deadline of the work the calling thread does right now, for code far below a gRPC
// handler (a store's Redis client) that must never work past the deadline of the call it
// serves: absl::InfiniteFuture() unless a ScopedDeadline is active on this thread.
absl::Time CurrentDeadline();

// Makes `deadline` the calling thread's deadline while it lives (or keeps an earlier one
// already set), and restores the one before when it ends. HandleCall sets the gRPC call's.
class ScopedDeadline {
 public:
  explicit ScopedDeadline(absl::Time deadline);
  ~ScopedDeadline();
  ScopedDeadline(const ScopedDeadline&) = delete;
  ScopedDeadline& operator=(const ScopedDeadline&) = delete;

 private:
  absl::Time previous_;
};

// Lifts the calling thread's deadline while it lives, for work that must finish once begun
// whatever the caller's deadline: recording a password or code check that already happened (a
// failure the caller's short deadline could cancel would be a free, uncounted guess). The calls
// below keep their own timeouts (a Redis client's command timeout).
class ScopedDeadlineLift {
 public:
  ScopedDeadlineLift();
  ~ScopedDeadlineLift();
  ScopedDeadlineLift(const ScopedDeadlineLift&) = delete;
  ScopedDeadlineLift& operator=(const ScopedDeadlineLift&) = delete;

 private:
  absl::Time previous_;
};

}  // namespace tally
