#include "common/util/deadline.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(DeadlineTest, NoneOutsideAScope) { EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture()); }

TEST(DeadlineTest, ScopesNestAndKeepTheEarlierDeadline) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  {
    ScopedDeadline outer(t);
    EXPECT_EQ(CurrentDeadline(), t);
    {
      ScopedDeadline later(t + absl::Seconds(5));  // cannot extend the outer one
      EXPECT_EQ(CurrentDeadline(), t);
      ScopedDeadline earlier(t - absl::Seconds(5));
      EXPECT_EQ(CurrentDeadline(), t - absl::Seconds(5));
    }
    EXPECT_EQ(CurrentDeadline(), t);
  }
  EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
}

TEST(DeadlineTest, ALiftEndsTheDeadlineForItsScopeOnly) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  ScopedDeadline call(t);
  {
    ScopedDeadlineLift lift;
    EXPECT_EQ(CurrentDeadline(), absl::InfiniteFuture());
    ScopedDeadline inner(t + absl::Seconds(1));  // a scope inside the lift still bounds its work
    EXPECT_EQ(CurrentDeadline(), t + absl::Seconds(1));
  }
  EXPECT_EQ(CurrentDeadline(), t);
}

TEST(DeadlineTest, PerThread) {
  ScopedDeadline mine(absl::FromUnixSeconds(1000));
  absl::Time other = absl::InfinitePast();
  std::thread([&other] { other = CurrentDeadline(); }).join();
  EXPECT_EQ(other, absl::InfiniteFuture());
  EXPECT_EQ(CurrentDeadline(), absl::FromUnixSeconds(1000));
}

}  // namespace
}  // namespace tally
