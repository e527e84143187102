// The in-memory stores against the LoginStore/LockoutStore contract (the cases the Redis stores
// pass too, tests/integration/orchestrator/login_store_test.cc), and what only the fake needs
// saying: its TTLs run on the injected clock.

#include "services/orchestrator/testing/in_memory_login_store.h"

#include <memory>

#include "common/testing/fake_clock.h"
#include "common/util/random.h"
#include "gtest/gtest.h"
#include "services/orchestrator/testing/login_store_contract.h"

namespace tally::orchestrator::testing {
namespace {

class InMemoryBackend final : public StoreBackend {
 public:
  explicit InMemoryBackend(absl::Time now) : clock_(now), store_(LockoutPolicy{}, clock_) {}

  LoginStore& logins() override { return store_; }
  LockoutStore& lockout() override { return store_; }
  StartLimiter& start_limiter() override { return start_limiter_; }
  int64_t Operations() override { return store_.operations(); }
  int PendingChecks(absl::string_view directory_id, absl::string_view subject) override {
    return store_.PendingChecks(directory_id, subject);
  }
  int Failures(absl::string_view directory_id, absl::string_view subject) override {
    return store_.Failures(directory_id, subject);
  }
  absl::StatusOr<absl::Duration> TimeToLive(absl::string_view login_id) override {
    return store_.TimeToLive(login_id);
  }

 private:
  tally::testing::FakeClock clock_;
  InMemoryLoginStore store_;
  InMemoryStartLimiter start_limiter_{kContractStartLimits};
};

std::unique_ptr<StoreBackend> MakeInMemoryBackend(absl::Time now) {
  return std::make_unique<InMemoryBackend>(now);
}

INSTANTIATE_TEST_SUITE_P(InMemory, LoginStoreContract, ::testing::Values(&MakeInMemoryBackend));

TEST(LoginIdTest, CarriesTheDirectory) {
  const std::string id = NewLoginId(CsprngRandom::Get(), "dir_abc-1");
  EXPECT_EQ(*DirectoryOfLoginId(id), "dir_abc-1");
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("lgn_abc").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("xyz_abc-dir_1").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("lgn_abc-dir}1").status()));
}

TEST(InMemoryLoginStoreTest, LoginsLocksAndReservationsExpireByTheClock) {
  tally::testing::FakeClock clock;
  const LockoutPolicy policy;
  InMemoryLoginStore store(policy, clock);
  LoginRecord r;
  r.login_id = NewLoginId(CsprngRandom::Get(), "dir_1");
  r.directory_id = "dir_1";
  r.subject = "u:usr_1";
  r.create_time = clock.Now();
  r.expire_time = clock.Now() + absl::Minutes(10);
  ASSERT_TRUE(store.Create(r, absl::Minutes(10)).ok());
  clock.Advance(absl::Minutes(10) - absl::Milliseconds(1));
  EXPECT_TRUE(store.Get(r.login_id).ok());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(absl::IsNotFound(store.Get(r.login_id).status()));
  // Gone means gone: the id may be created again.
  EXPECT_TRUE(store.Create(r, absl::Minutes(10)).ok());

  // Failures are forgotten after forget_after without a lock; a lock adds its own length.
  ASSERT_TRUE(store
                  .RecordFailure("dir_1", r.subject, ::tally::common::v1::AUTH_METHOD_PASSWORD, "",
                                 clock.Now())
                  .ok());
  EXPECT_EQ(*store.AttemptsLeft("dir_1", r.subject), policy.threshold - 1);
  clock.Advance(policy.forget_after);
  EXPECT_EQ(*store.AttemptsLeft("dir_1", r.subject), policy.threshold);
  for (int i = 0; i < policy.threshold; ++i) {
    ASSERT_TRUE(store
                    .RecordFailure("dir_1", r.subject, ::tally::common::v1::AUTH_METHOD_PASSWORD,
                                   "", clock.Now())
                    .ok());
  }
  clock.Advance(policy.forget_after);
  EXPECT_EQ(store.Failures("dir_1", r.subject), policy.threshold);
  clock.Advance(policy.first_lock);
  EXPECT_EQ(store.Failures("dir_1", r.subject), 0);

  // A reservation nobody settles stops counting when the pending set's TTL runs out.
  ASSERT_TRUE(store.Reserve("dir_1", "u:usr_2", clock.Now())->granted);
  EXPECT_EQ(store.PendingChecks("dir_1", "u:usr_2"), 1);
  clock.Advance(policy.reservation_ttl);
  EXPECT_EQ(store.PendingChecks("dir_1", "u:usr_2"), 0);
}

}  // namespace
}  // namespace tally::orchestrator::testing
