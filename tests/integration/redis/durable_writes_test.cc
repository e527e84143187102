// Writes a failover must not undo (issue 23): Redis replicates asynchronously, so a write
// acknowledged by a primary that dies before its replica has it is gone once the replica takes
// over. For a revocation that means a revoked token working again; for a lockout failure a free
// guess; for a consumed OTP code or passkey challenge a second use. Those stores wait for a replica
// (RedisDurability::kReplicated, --redis_min_replica_acks): with the replica cut off they never
// report such a write done, and a revocation reported done survives the primary's SIGKILL.
// Against a Redis Cluster of the test's own.

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/auth/redis_revocation_store.h"
#include "common/redis/key_slot.h"
#include "common/redis/redis_client.h"
#include "common/testing/fake_clock.h"
#include "common/testing/redis_cluster.h"
#include "common/testing/test_claims.h"
#include "common/util/deadline.h"
#include "common/util/random.h"
#include "gtest/gtest.h"
#include "services/orchestrator/redis_login_store.h"
#include "services/otp/otp_keys.h"
#include "services/otp/redis_otp_store.h"
#include "services/passkey/redis_challenge_store.h"

namespace tally {
namespace {

using testing::LocalRedisCluster;

class DurableWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = testing::SharedRedisCluster();
    ASSERT_NE(cluster_, nullptr);
    // What the services run with in cluster mode: one replica must confirm.
    absl::StatusOr<RedisOptions> suite = testing::SuiteRedisOptions(/*cluster=*/true);
    ASSERT_TRUE(suite.ok()) << suite.status();
    RedisOptions options = *suite;
    options.command_timeout = absl::Seconds(2);
    redis_ = std::make_shared<RedisClient>(options);
    store_ = std::make_unique<RedisRevocationStore>(redis_, clock_);
    dir_ = absl::StrCat("dir_rf", testing::UniqueSuffix());
    slot_ = KeySlot(RevokedSessionKey(dir_, "any"));
    primary_ = *cluster_->PrimaryOf(slot_);
    replica_ = *cluster_->ReplicaOf(primary_);
  }
  void TearDown() override {
    if (cluster_ == nullptr) return;
    // Whatever happened, every node runs again for the next test (the old primary as a replica).
    (void)cluster_->Signal(replica_, SIGCONT);
    EXPECT_TRUE(cluster_->Start().ok());
  }

  // The replica of the directory's primary falls behind: frozen, and cut off from its primary,
  // which keeps serving. TearDown lets it catch up.
  void CutOffReplica() {
    ASSERT_TRUE(cluster_->Signal(replica_, SIGSTOP).ok());
    ASSERT_TRUE(cluster_->Node(primary_).Command({"CLIENT", "KILL", "TYPE", "replica"}).ok());
  }

  // A token of usr_1's: session `session`, of the family `family` (a step-up's) if given.
  SessionClaims Token(const std::string& session, const std::string& family = "") const {
    return testing::TestClaims(
        {.directory_id = dir_, .user_id = "usr_1", .session_id = session, .family_id = family},
        clock_.Now() - absl::Minutes(1));
  }

  absl::Status Revoke(const std::string& session) {
    ScopedDeadline deadline(absl::Now() + absl::Seconds(1));  // the RevokeSession call's
    return store_->RevokeSession(Token(session));
  }

  absl::Status RevokeUser() {
    ScopedDeadline deadline(absl::Now() + absl::Seconds(1));  // the RevokeUserSessions call's
    return store_->RevokeUser(dir_, "usr_1", clock_.Now());
  }

  // SIGKILL of the primary, then until its replica serves the slot.
  void FailOver() {
    ASSERT_TRUE(cluster_->Kill(primary_).ok());
    ASSERT_TRUE(cluster_->Signal(replica_, SIGCONT).ok());
    const absl::Status took_over =
        cluster_->WaitForNewPrimary(slot_, primary_, absl::Seconds(30));
    ASSERT_TRUE(took_over.ok()) << took_over;
    ASSERT_EQ(*cluster_->PrimaryOf(slot_), replica_);
  }

  absl::StatusOr<bool> IsRevoked(const SessionClaims& token) {
    // The client follows the failover itself; a patient deadline for it.
    ScopedDeadline deadline(absl::Now() + absl::Seconds(10));
    return store_->IsRevoked(token);
  }
  absl::StatusOr<bool> IsRevoked(const std::string& session) { return IsRevoked(Token(session)); }

  LocalRedisCluster* cluster_ = nullptr;
  testing::FakeClock clock_{absl::Now()};
  std::shared_ptr<RedisClient> redis_;
  std::unique_ptr<RedisRevocationStore> store_;
  std::string dir_;
  int slot_ = 0;
  int primary_ = 0;
  int replica_ = 0;
};

TEST_F(DurableWritesTest, RevokedThenPrimaryKilledAtOnceStaysRevoked) {
  ASSERT_TRUE(Revoke("ses_1").ok());
  FailOver();
  absl::StatusOr<bool> revoked = IsRevoked("ses_1");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(*revoked) << "the revocation was lost with the primary";
  // The family's record was written with it: a step-up of that login stays refused too.
  absl::StatusOr<bool> step_up = IsRevoked(Token("ses_1s", /*family=*/"ses_1"));
  ASSERT_TRUE(step_up.ok()) << step_up.status();
  EXPECT_TRUE(*step_up) << "the family's revocation was lost with the primary";
}

TEST_F(DurableWritesTest, NoRevocationReportedDoneThatOnlyTheDyingPrimaryHas) {
  CutOffReplica();
  const absl::Status revoke = Revoke("ses_2");
  FailOver();
  absl::StatusOr<bool> revoked = IsRevoked("ses_2");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  // The claim: whatever RevokeSession answered OK is revoked after the failover. Only the dead
  // primary had this one, so the only right answer was UNAVAILABLE (the caller retries).
  if (revoke.ok()) {
    EXPECT_TRUE(*revoked) << "RevokeSession said OK, and the token works again after failover";
  }
  EXPECT_EQ(revoke.code(), absl::StatusCode::kUnavailable) << revoke;
  // The caller's retry, on the new primary with its own replica back: done, and it holds.
  ASSERT_TRUE(cluster_->Start().ok());
  ASSERT_TRUE(Revoke("ses_2").ok());
  EXPECT_TRUE(*IsRevoked("ses_2"));
}

TEST_F(DurableWritesTest, NoUserRevocationReportedDoneThatOnlyTheDyingPrimaryHas) {
  CutOffReplica();
  const absl::Status revoke = RevokeUser();
  FailOver();
  absl::StatusOr<bool> revoked = IsRevoked("ses_3");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  // A password change's RevokeUserSessions: an OK must hold after the failover, and only the
  // dead primary had the mark, so the only right answer was UNAVAILABLE.
  if (revoke.ok()) {
    EXPECT_TRUE(*revoked) << "RevokeUser said OK, and the user's tokens work again after failover";
  }
  EXPECT_EQ(revoke.code(), absl::StatusCode::kUnavailable) << revoke;
  ASSERT_TRUE(cluster_->Start().ok());
  ASSERT_TRUE(RevokeUser().ok());
  EXPECT_TRUE(*IsRevoked("ses_3"));
}

TEST_F(DurableWritesTest, LockoutFailuresAreNotCountedWithoutAReplica) {
  orchestrator::RedisLockoutStore lockout(redis_, orchestrator::LockoutPolicy{},
                                          CsprngRandom::Get());
  const absl::Time now = absl::Now();
  absl::StatusOr<orchestrator::Reservation> reservation = lockout.Reserve(dir_, "u:usr_1", now);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  ASSERT_TRUE(lockout
                  .RecordFailure(dir_, "u:usr_1", ::tally::common::v1::AUTH_METHOD_PASSWORD,
                                 reservation->id, now)
                  .ok());
  CutOffReplica();
  ScopedDeadline deadline(absl::Now() + absl::Seconds(1));
  absl::StatusOr<orchestrator::LockOutcome> unconfirmed =
      lockout.RecordFailure(dir_, "u:usr_1", ::tally::common::v1::AUTH_METHOD_PASSWORD, "", now);
  EXPECT_EQ(unconfirmed.status().code(), absl::StatusCode::kUnavailable) << unconfirmed.status();
}

TEST_F(DurableWritesTest, ConsumedPasskeyChallengesAreNotReportedWithoutAReplica) {
  passkey::RedisChallengeStore challenges(redis_);
  passkey::PendingCeremony ceremony;
  ceremony.directory_id = dir_;
  ceremony.user_id = "usr_1";
  ceremony.challenge = std::string(32, 'c');
  ASSERT_TRUE(challenges.Put("ch_1", ceremony, absl::Minutes(5)).ok());
  ASSERT_TRUE(challenges.Put("ch_2", ceremony, absl::Minutes(5)).ok());
  ASSERT_TRUE(challenges.Take(dir_, "ch_1").ok());
  CutOffReplica();
  ScopedDeadline deadline(absl::Now() + absl::Seconds(1));
  absl::StatusOr<passkey::PendingCeremony> unconfirmed = challenges.Take(dir_, "ch_2");
  EXPECT_EQ(unconfirmed.status().code(), absl::StatusCode::kUnavailable) << unconfirmed.status();
}

TEST_F(DurableWritesTest, ConsumedOtpCodesAreNotReportedWithoutAReplica) {
  // Only the challenge and budget keys (one directory, one slot); the delivery job is the
  // queue's, appended afterwards and not part of what verification consumes.
  otp::RedisOtpStore store(redis_);
  const absl::Time now = absl::Now();
  auto issue = [&](const std::string& challenge_id, const std::string& mac) {
    otp::IssueParams p;
    p.directory_id = dir_;
    p.now = now;
    p.member = challenge_id;
    p.day.cap = 10;
    p.day.day = absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone());
    p.day.end = now + absl::Hours(1);
    p.day.count = true;
    otp::ChallengeWrite challenge;
    challenge.challenge_id = challenge_id;
    challenge.user_id = absl::StrCat("usr_", mac.substr(0, 1));
    challenge.channel = otp::pb::CHANNEL_SMS;
    challenge.destination = "+15550100";
    challenge.code_mac_hex = mac;
    challenge.code_ttl = absl::Minutes(5);
    p.challenge = std::move(challenge);
    absl::StatusOr<otp::IssueResult> issued = store.Issue(p);
    ASSERT_TRUE(issued.ok()) << issued.status();
    ASSERT_TRUE(issued->issued);
  };
  // Each challenge in its own slot (a user's new code would replace the last).
  const std::string otp_1 = otp::keys::NewChallengeId(CsprngRandom::Get(), std::string(32, 'a'));
  const std::string otp_2 = otp::keys::NewChallengeId(CsprngRandom::Get(), std::string(32, 'b'));
  issue(otp_1, std::string(64, 'a'));
  issue(otp_2, std::string(64, 'b'));
  absl::StatusOr<otp::VerifyOutcome> first = store.Verify(dir_, otp_1, std::string(64, 'a'), now);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->result, otp::pb::VERIFY_RESULT_ACCEPTED);
  CutOffReplica();
  ScopedDeadline deadline(absl::Now() + absl::Seconds(1));
  absl::StatusOr<otp::VerifyOutcome> unconfirmed =
      store.Verify(dir_, otp_2, std::string(64, 'b'), now);
  EXPECT_EQ(unconfirmed.status().code(), absl::StatusCode::kUnavailable) << unconfirmed.status();
}

}  // namespace
}  // namespace tally
