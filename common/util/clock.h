#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tally {

// Time source injected into everything that reasons about expiry, so tests move time by hand
// instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // Process-wide instance for wiring in main.cc.
  static const Clock& Get() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace tally
