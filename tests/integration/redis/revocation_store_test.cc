// RedisRevocationStore (common/auth/redis_revocation_store.h) against a real Redis: the
// revocation store contract (common/auth/testing), with the TTLs Redis really sets, and what the
// store writes is what every service's check reads, in one round trip.

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/auth/redis_revocation_store.h"
#include "common/auth/testing/revocation_store_contract.h"
#include "common/redis/redis_client.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::tally::testing::RevocationStoreContract;

std::shared_ptr<RedisClient> TestRedis() {
  absl::StatusOr<RedisOptions> options =
      ParseRedisUrl(testing::RequiredEnv("TALLY_TEST_REDIS_URL"));
  EXPECT_TRUE(options.ok()) << options.status();
  return std::make_shared<RedisClient>(options.value_or(RedisOptions{}));
}

class RedisBackend final : public testing::RevocationBackend {
 public:
  explicit RedisBackend(const Clock& clock) : redis_(TestRedis()), store_(redis_, clock) {}
  RevocationStore& store() override { return store_; }
  absl::StatusOr<absl::Duration> TimeToLive(const std::string& key) override {
    absl::StatusOr<RedisReply> ttl = redis_->Command({"PTTL", key});
    if (!ttl.ok()) return ttl.status();
    if (ttl->integer() < 0) return absl::NotFoundError("no such key, or no TTL");
    return absl::Milliseconds(ttl->integer());
  }

 private:
  std::shared_ptr<RedisClient> redis_;
  RedisRevocationStore store_;
};

std::unique_ptr<testing::RevocationBackend> MakeRedisBackend(const Clock& clock) {
  return std::make_unique<RedisBackend>(clock);
}

INSTANTIATE_TEST_SUITE_P(Redis, RevocationStoreContract, ::testing::Values(&MakeRedisBackend));

class RevocationStoreTest : public ::testing::Test {
 protected:
  SessionClaims Session(const std::string& sid) const {
    return testing::TestClaims({.directory_id = dir_, .user_id = "usr_alice", .session_id = sid},
                               clock_.Now());
  }

  std::shared_ptr<RedisClient> redis_ = TestRedis();
  std::string dir_ = absl::StrCat("dir_rv", testing::UniqueSuffix());
  testing::FakeClock clock_{absl::Now()};
};

TEST_F(RevocationStoreTest, ACheckIsOneRoundTripForTheSessionItsFamilyAndItsUser) {
  RedisRevocationStore store(redis_, clock_);
  const SessionClaims claims = Session("ses_1");
  ASSERT_TRUE(store.IsRevoked(claims).ok());  // loads nothing: MGET is a plain command
  const int64_t before = redis_->round_trips();
  ASSERT_FALSE(*store.IsRevoked(claims));
  EXPECT_EQ(redis_->round_trips() - before, 1);
  ASSERT_TRUE(store.RevokeUser(dir_, "usr_alice", clock_.Now()).ok());
  const int64_t after = redis_->round_trips();
  EXPECT_TRUE(*store.IsRevoked(claims));
  EXPECT_EQ(redis_->round_trips() - after, 1);
}

TEST_F(RevocationStoreTest, AStoreOfItsOwnReadsWhatAnotherWrote) {
  // The orchestrator (or credential) writes, policy reads through a pool of its own.
  absl::StatusOr<RedisOptions> options =
      ParseRedisUrl(testing::RequiredEnv("TALLY_TEST_REDIS_URL"));
  ASSERT_TRUE(options.ok());
  std::shared_ptr<RedisRevocationStore> reader = RevocationStoreFor(*options, clock_);
  RedisRevocationStore writer(redis_, clock_);
  const SessionClaims claims = Session("ses_3");
  EXPECT_FALSE(*reader->IsRevoked(claims));
  ASSERT_TRUE(writer.RevokeSession(claims).ok());
  EXPECT_TRUE(*reader->IsRevoked(claims));
}

TEST_F(RevocationStoreTest, AnUnreadableUserRecordFailsClosed) {
  RedisRevocationStore store(redis_, clock_);
  ASSERT_TRUE(redis_->Command({"SET", UserRevokedKey(dir_, "usr_alice"), "soon"}).ok());
  EXPECT_EQ(store.IsRevoked(Session("ses_4")).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace tally
