#pragma once

// Fakes shared by the OTP unit tests.

#include <cstdint>
#include <deque>
#include <string>

#include "absl/types/span.h"
#include "common/util/random.h"

namespace tally::otp::testing {

// Plays queued bytes first, then a counter, so ids differ and tests can force values.
class FakeRandom final : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      if (!queued_.empty()) {
        b = queued_.front();
        queued_.pop_front();
      } else {
        b = static_cast<uint8_t>(counter_++ * 37 + 11);
      }
    }
  }
  void Queue(std::initializer_list<uint8_t> bytes) { queued_.insert(queued_.end(), bytes); }

 private:
  std::deque<uint8_t> queued_;
  uint32_t counter_ = 0;
};

}  // namespace tally::otp::testing
