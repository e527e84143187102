// RedisRevocationStore (common/auth/redis_revocation_store.h) against a real Redis: what the
// orchestrator's RevokeSession writes is what every service's revocation check reads, with a
// TTL that ends when the token would have expired.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth/redis_revocation_store.h"
#include "common/redis/redis_client.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

class RevocationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::RequiredEnv("TALLY_TEST_REDIS_URL");
    absl::StatusOr<RedisOptions> options = ParseRedisUrl(url_);
    ASSERT_TRUE(options.ok()) << options.status();
    redis_ = std::make_shared<RedisClient>(*options);
    dir_ = absl::StrCat("dir_rv", testing::UniqueSuffix());
  }

  std::string url_;
  std::shared_ptr<RedisClient> redis_;
  std::string dir_;
  testing::FakeClock clock_{absl::Now()};
};

TEST_F(RevocationStoreTest, RevokedUntilTheTokenExpires) {
  RedisRevocationStore store(redis_, clock_);
  ASSERT_TRUE(store.Revoke(dir_, "ses_1", clock_.Now() + absl::Minutes(10)).ok());
  absl::StatusOr<bool> revoked = store.IsRevoked(dir_, "ses_1");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(*revoked);
  EXPECT_FALSE(*store.IsRevoked(dir_, "ses_2"));
  EXPECT_FALSE(*store.IsRevoked(absl::StrCat(dir_, "x"), "ses_1"));
  // The key the design names, with a TTL of the token's remaining lifetime.
  absl::StatusOr<RedisReply> ttl =
      redis_->Command({"PTTL", absl::StrCat("{", dir_, "}:revoked:ses_1")});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer(), absl::ToInt64Milliseconds(absl::Minutes(9)));
  EXPECT_LE(ttl->integer(), absl::ToInt64Milliseconds(absl::Minutes(10)));
  // Revoking twice is fine.
  EXPECT_TRUE(store.Revoke(dir_, "ses_1", clock_.Now() + absl::Minutes(10)).ok());
}

TEST_F(RevocationStoreTest, AnExpiredTokenNeedsNoEntry) {
  RedisRevocationStore store(redis_, clock_);
  ASSERT_TRUE(store.Revoke(dir_, "ses_old", clock_.Now() - absl::Seconds(1)).ok());
  EXPECT_FALSE(*store.IsRevoked(dir_, "ses_old"));
}

TEST_F(RevocationStoreTest, CheckerFromUrlReadsWhatTheStoreWrote) {
  RedisRevocationStore store(redis_, clock_);
  absl::StatusOr<std::shared_ptr<const RevocationChecker>> checker =
      RevocationCheckerFromUrl(url_, "revocation-test", clock_);
  ASSERT_TRUE(checker.ok()) << checker.status();
  ASSERT_NE(*checker, nullptr);
  EXPECT_FALSE(*(*checker)->IsRevoked(dir_, "ses_3"));
  ASSERT_TRUE(store.Revoke(dir_, "ses_3", clock_.Now() + absl::Hours(1)).ok());
  EXPECT_TRUE(*(*checker)->IsRevoked(dir_, "ses_3"));
}

}  // namespace
}  // namespace tally
