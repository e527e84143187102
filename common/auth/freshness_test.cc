#include "common/auth/freshness.h"

#include "common/status/error_details.h"
#include "common/status/error_reasons.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(RequireFreshAuthenticationTest, AUserTokenMustBeFresh) {
  Caller user = Caller::User(SessionClaims{});
  user.fresh = true;
  EXPECT_TRUE(RequireFreshAuthentication(user).ok());

  user.fresh = false;
  absl::Status stale = RequireFreshAuthentication(user);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(stale), reasons::kReauthenticationRequired);
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(stale);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->domain(), reasons::kErrorDomain);
}

TEST(RequireFreshAuthenticationTest, ThePlatformIsNotSubjectToItAndTheClusterNeverPasses) {
  EXPECT_TRUE(RequireFreshAuthentication(Caller::Platform()).ok());
  EXPECT_EQ(RequireFreshAuthentication(Caller::Anonymous()).code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace tally
