#include "services/orchestrator/user_sessions.h"

#include <string>

#include "common/auth/testing/in_memory_revocation_store.h"
#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gtest/gtest.h"
#include "services/orchestrator/testing/fake_peers.h"
#include "services/orchestrator/testing/session_caller.h"

namespace tally::orchestrator {
namespace {

namespace pb = ::tally::orchestrator::v1;
using ::tally::orchestrator::testing::FakeCredentials;
using ::tally::testing::FakeClock;
using ::tally::testing::InMemoryRevocationStore;
using ::tally::testing::TestClaims;

constexpr char kDir[] = "dir_acme";
constexpr char kOtherDir[] = "dir_other";
constexpr char kAlice[] = "usr_alice";
constexpr char kBob[] = "usr_bob";
constexpr char kAdmin[] = "usr_admin";
constexpr char kOtherAdmin[] = "usr_other_admin";

class UserSessionsTest : public ::testing::Test {
 protected:
  UserSessionsTest() {
    credentials_.Add(kDir, kAlice, "alice", "pw", "+15550100", "alice@example.com");
    credentials_.Add(kDir, kBob, "bob", "pw", "+15550101", "bob@example.com");
    credentials_.Add(kDir, kAdmin, "admin", "pw", "+15550102", "admin@example.com", {"admin"});
    credentials_.Add(kOtherDir, kOtherAdmin, "other", "pw", "+15550103", "o@example.com",
                     {"admin"});
  }

  // A session of `user` issued now, logged in `ago` (fresh as the Authenticator finds it with
  // the default --reauth_max_age).
  Caller Session(const std::string& dir, const std::string& user, absl::Duration ago = {},
                 std::vector<std::string> roles = {"user"}) {
    return testing::SessionCaller(clock_.Now(), dir, user, ago, std::move(roles));
  }
  Caller Admin(absl::Duration ago = {}) { return Session(kDir, kAdmin, ago, {"admin"}); }

  absl::Status Revoke(const Caller& caller, const std::string& user_id) {
    pb::RevokeUserSessionsRequest request;
    request.set_user_id(user_id);
    return sessions_.RevokeUserSessions(caller, request, absl::InfiniteFuture()).status();
  }
  // Whether a token of `user` issued at `issued` is refused now.
  bool Revoked(const std::string& dir, const std::string& user, absl::Time issued) {
    absl::StatusOr<bool> revoked = revocations_.IsRevoked(TestClaims(
        {.directory_id = dir, .user_id = user, .session_id = "ses_probe"}, issued));
    EXPECT_TRUE(revoked.ok()) << revoked.status();
    return revoked.value_or(false);
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  FakeCredentials credentials_;
  InMemoryRevocationStore revocations_{clock_};
  UserSessions sessions_{credentials_, revocations_, clock_};
};

TEST_F(UserSessionsTest, TheUserEndsEveryOwnSessionIssuedUntilNow) {
  const absl::Time earlier = clock_.Now() - absl::Hours(1);
  ASSERT_TRUE(Revoke(Session(kDir, kAlice), kAlice).ok());
  EXPECT_TRUE(Revoked(kDir, kAlice, earlier));
  EXPECT_TRUE(Revoked(kDir, kAlice, clock_.Now()));
  // A login after the revocation is a new session; other users are untouched.
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(Revoked(kDir, kAlice, clock_.Now()));
  EXPECT_FALSE(Revoked(kDir, kBob, earlier));
}

TEST_F(UserSessionsTest, AnAdminEndsTheSessionsOfAUserOfTheDirectory) {
  const absl::Time earlier = clock_.Now() - absl::Minutes(1);
  ASSERT_TRUE(Revoke(Admin(), kBob).ok());
  EXPECT_TRUE(Revoked(kDir, kBob, earlier));
  EXPECT_FALSE(Revoked(kDir, kAdmin, earlier));
}

TEST_F(UserSessionsTest, OnlyTheUserOrTheirAdminsWithAFreshToken) {
  const absl::Time earlier = clock_.Now() - absl::Minutes(1);
  EXPECT_EQ(Revoke(Caller::Anonymous(), kBob).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Revoke(Caller::Platform(), kBob).code(), absl::StatusCode::kPermissionDenied);
  // Another user of the directory.
  EXPECT_EQ(Revoke(Session(kDir, kAlice), kBob).code(), absl::StatusCode::kPermissionDenied);
  // An admin of another directory finds no such user there.
  EXPECT_EQ(Revoke(Session(kOtherDir, kOtherAdmin, {}, {"admin"}), kBob).code(),
            absl::StatusCode::kNotFound);
  // A stolen token that is not fresh cannot end the owner's sessions (nor lock them out).
  const absl::Status stale_user = Revoke(Session(kDir, kBob, absl::Minutes(6)), kBob);
  EXPECT_EQ(stale_user.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(stale_user), "REAUTHENTICATION_REQUIRED");
  const absl::Status stale_admin = Revoke(Admin(absl::Minutes(6)), kBob);
  EXPECT_EQ(ErrorReason(stale_admin), "REAUTHENTICATION_REQUIRED");
  EXPECT_FALSE(Revoked(kDir, kBob, earlier)) << "a refused call wrote the user's record";
}

TEST_F(UserSessionsTest, UnknownOrMalformedUsers) {
  EXPECT_EQ(Revoke(Admin(), "usr_nobody").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Revoke(Admin(), "usr_x:{dir}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Revoke(Admin(), "").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(UserSessionsTest, AStoreThatIsDownIsAnError) {
  revocations_.Fail(absl::UnavailableError("redis down"));
  EXPECT_EQ(Revoke(Session(kDir, kAlice), kAlice).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tally::orchestrator
