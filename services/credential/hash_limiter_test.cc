#include "services/credential/hash_limiter.h"

#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

// Blocks until `condition` holds; no timing is asserted, a broken limiter hangs the test until
// ctest's timeout instead of passing.
template <typename Fn>
void AwaitTrue(Fn condition) {
  while (!condition()) std::this_thread::yield();
}

TEST(HashLimiterTest, RunsUpToTheLimitThenQueuesThenRefuses) {
  HashLimiter limiter(/*max_running=*/2, /*max_waiting=*/1);
  auto first = limiter.Acquire();
  auto second = limiter.Acquire();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(limiter.running(), 2);

  std::optional<absl::StatusOr<HashLimiter::Slot>> queued;
  std::thread waiter([&] { queued.emplace(limiter.Acquire()); });
  AwaitTrue([&] { return limiter.waiting() == 1; });

  // Both slots busy, the queue full: refused at once.
  absl::StatusOr<HashLimiter::Slot> refused = limiter.Acquire();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.waiting(), 1);

  { auto release = *std::move(first); }  // frees a slot for the waiter
  waiter.join();
  ASSERT_TRUE(queued.has_value() && queued->ok());
  EXPECT_EQ(limiter.running(), 2);
  EXPECT_EQ(limiter.waiting(), 0);
}

TEST(HashLimiterTest, NoQueueMeansRefusingAsSoonAsAllSlotsAreBusy) {
  HashLimiter limiter(1, 0);
  auto slot = limiter.Acquire();
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(limiter.Acquire().status().code(), absl::StatusCode::kResourceExhausted);
  { auto release = *std::move(slot); }
  EXPECT_EQ(limiter.running(), 0);
  EXPECT_TRUE(limiter.Acquire().ok());
}

TEST(HashLimiterTest, ServesTheQueueFirstComeFirstServed) {
  HashLimiter limiter(1, 3);
  auto held = limiter.Acquire();
  ASSERT_TRUE(held.ok());
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&, i] {
      absl::StatusOr<HashLimiter::Slot> slot = limiter.Acquire();
      ASSERT_TRUE(slot.ok());
      absl::MutexLock lock(&mu);
      order.push_back(i);
    });
    // Each waiter is queued before the next one starts.
    AwaitTrue([&] { return limiter.waiting() == i + 1; });
  }
  // A newcomer may not overtake the queue even though a slot is about to be free.
  EXPECT_EQ(limiter.Acquire().status().code(), absl::StatusCode::kResourceExhausted);
  { auto release = *std::move(held); }
  for (std::thread& t : waiters) t.join();
  EXPECT_THAT(order, ::testing::ElementsAre(0, 1, 2));
  EXPECT_EQ(limiter.running(), 0);
}

// Holds and releases one slot that took `hold` by `clock`: the limiter's estimate becomes it.
void Teach(HashLimiter& limiter, tally::testing::FakeClock& clock, absl::Duration hold) {
  absl::StatusOr<HashLimiter::Slot> slot = limiter.Acquire();
  ASSERT_TRUE(slot.ok());
  clock.Advance(hold);
  auto release = *std::move(slot);
}

TEST(HashLimiterTest, LearnsTheTypicalHoldFromReleasedSlots) {
  tally::testing::FakeClock clock;
  HashLimiter limiter(1, 0, clock);
  EXPECT_EQ(limiter.typical_hold(), absl::ZeroDuration());
  Teach(limiter, clock, absl::Milliseconds(80));
  EXPECT_EQ(limiter.typical_hold(), absl::Milliseconds(80));
  Teach(limiter, clock, absl::Milliseconds(160));
  EXPECT_EQ(limiter.typical_hold(), absl::Milliseconds(90));  // moves 1/8 of the way
}

TEST(HashLimiterTest, RefusesAtOnceWhenTheAnswerCouldNotComeByTheDeadline) {
  tally::testing::FakeClock clock;
  HashLimiter limiter(2, 4, clock);
  // Before anything was measured nobody is refused for time.
  EXPECT_TRUE(limiter.Acquire(clock.Now() + absl::Milliseconds(1)).ok());
  Teach(limiter, clock, absl::Milliseconds(100));

  // A free slot, but not even the work itself fits before the deadline.
  EXPECT_EQ(limiter.Acquire(clock.Now() + absl::Milliseconds(99)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.running(), 0);
  // Both slots busy: the first wave of waiters starts in about one hold, then needs one more.
  auto a = limiter.Acquire(clock.Now() + absl::Milliseconds(100));
  auto b = limiter.Acquire(clock.Now() + absl::Milliseconds(100));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(limiter.Acquire(clock.Now() + absl::Milliseconds(199)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.waiting(), 0) << "a refused caller must not stay queued";

  std::optional<absl::StatusOr<HashLimiter::Slot>> queued;
  std::thread waiter([&] { queued.emplace(limiter.Acquire(clock.Now() + absl::Seconds(60))); });
  AwaitTrue([&] { return limiter.waiting() == 1; });
  { auto release = *std::move(a); }
  waiter.join();
  ASSERT_TRUE(queued.has_value());
  EXPECT_TRUE(queued->ok()) << queued->status();
}

TEST(HashLimiterTest, AQueuedCallerWhoseTurnComesTooLateLeavesTheQueue) {
  tally::testing::FakeClock clock;
  HashLimiter limiter(1, 2, clock);
  Teach(limiter, clock, absl::Milliseconds(10));
  auto held = limiter.Acquire();
  ASSERT_TRUE(held.ok());
  // Its turn must start within 30 ms (real time: the wait is a real wait) and never comes.
  absl::StatusOr<HashLimiter::Slot> late = limiter.Acquire(clock.Now() + absl::Milliseconds(40));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.waiting(), 0);
  // The slot it would have had goes to the next caller, not to nobody.
  std::optional<absl::StatusOr<HashLimiter::Slot>> next;
  std::thread waiter([&] { next.emplace(limiter.Acquire()); });
  AwaitTrue([&] { return limiter.waiting() == 1; });
  { auto release = *std::move(held); }
  waiter.join();
  ASSERT_TRUE(next.has_value() && next->ok());
  EXPECT_EQ(limiter.running(), 1);
}

TEST(HashLimiterTest, SlotsAreReleasedWhenMovedFromAndDestroyed) {
  HashLimiter limiter(1, 0);
  {
    absl::StatusOr<HashLimiter::Slot> slot = limiter.Acquire();
    ASSERT_TRUE(slot.ok());
    HashLimiter::Slot moved = *std::move(slot);
    EXPECT_EQ(limiter.running(), 1);
  }
  EXPECT_EQ(limiter.running(), 0);
}

}  // namespace
}  // namespace tally::credential
