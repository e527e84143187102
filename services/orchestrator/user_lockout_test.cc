#include "services/orchestrator/user_lockout.h"

#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gtest/gtest.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/testing/fake_peers.h"
#include "services/orchestrator/testing/in_memory_login_store.h"

namespace tally::orchestrator {
namespace {

namespace pb = ::tally::orchestrator::v1;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::orchestrator::testing::FakeCredentials;
using ::tally::orchestrator::testing::InMemoryLoginStore;
using ::tally::testing::FakeClock;
using ::tally::testing::TestClaims;

constexpr char kDir[] = "dir_acme";
constexpr char kOtherDir[] = "dir_other";
constexpr char kAlice[] = "usr_alice";

class UserLockoutTest : public ::testing::Test {
 protected:
  UserLockoutTest() {
    credentials_.Add(kDir, kAlice, "alice", "pw", "+15550100", "alice@example.com");
  }

  Caller Session(const std::string& dir, const std::string& user, std::vector<std::string> roles) {
    return Caller::User(TestClaims({.directory_id = dir,
                                    .user_id = user,
                                    .roles = std::move(roles),
                                    .auth_time = clock_.Now()},
                                   clock_.Now()));
  }
  absl::Status Unlock(const Caller& caller, const std::string& user_id) {
    pb::UnlockUserRequest request;
    request.set_user_id(user_id);
    return lockout_.UnlockUser(caller, request, absl::InfiniteFuture()).status();
  }
  // Locks alice until UnlockUser: permanent_threshold failures.
  void LockAlicePermanently() {
    for (int i = 0; i < policy_.permanent_threshold; ++i) {
      ASSERT_TRUE(
          store_.RecordFailure(kDir, UserSubject(kAlice), AUTH_METHOD_PASSWORD, "", clock_.Now())
              .ok());
    }
  }
  absl::Duration AliceLockedFor() {
    return *store_.LockedFor(kDir, UserSubject(kAlice), clock_.Now() + absl::Hours(24 * 365));
  }

  FakeClock clock_;
  LockoutPolicy policy_{.permanent_threshold = 7};
  InMemoryLoginStore store_{policy_, clock_};
  FakeCredentials credentials_;
  UserLockout lockout_{credentials_, store_, nullptr};
};

TEST_F(UserLockoutTest, AnAdminOfTheDirectoryOrThePlatformEndsAPermanentLock) {
  LockAlicePermanently();
  ASSERT_GT(AliceLockedFor(), absl::ZeroDuration());
  EXPECT_TRUE(Unlock(Session(kDir, "usr_admin", {"admin"}), kAlice).ok());
  EXPECT_EQ(AliceLockedFor(), absl::ZeroDuration());
  EXPECT_EQ(*store_.AttemptsLeft(kDir, UserSubject(kAlice)), policy_.threshold);

  LockAlicePermanently();
  EXPECT_TRUE(Unlock(Caller::Platform(), kAlice).ok());
  EXPECT_EQ(AliceLockedFor(), absl::ZeroDuration());
  // Unlocking a user who is not locked is fine.
  EXPECT_TRUE(Unlock(Caller::Platform(), kAlice).ok());
}

TEST_F(UserLockoutTest, EveryoneElseIsRefusedAndNothingChanges) {
  LockAlicePermanently();
  EXPECT_EQ(Unlock(Caller::Anonymous(), kAlice).code(), absl::StatusCode::kUnauthenticated);
  // The user themself, a plain user of the directory, an admin of another directory.
  EXPECT_EQ(Unlock(Session(kDir, kAlice, {"user"}), kAlice).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Unlock(Session(kDir, "usr_bob", {"user"}), kAlice).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Unlock(Session(kOtherDir, "usr_other", {"admin"}), kAlice).code(),
            absl::StatusCode::kNotFound);
  // Malformed and unknown ids.
  EXPECT_EQ(Unlock(Caller::Platform(), "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Unlock(Caller::Platform(), "usr_\xff").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Unlock(Caller::Platform(), "usr_nobody").code(), absl::StatusCode::kNotFound);
  EXPECT_GT(AliceLockedFor(), absl::ZeroDuration());
}

}  // namespace
}  // namespace tally::orchestrator
