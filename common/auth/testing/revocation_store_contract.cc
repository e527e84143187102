#include "common/auth/testing/revocation_store_contract.h"

#include "absl/strings/str_cat.h"
#include "common/testing/test_claims.h"
#include "common/testing/test_support.h"

namespace tally::testing {

void RevocationStoreContract::SetUp() {
  dir_ = "dir_rv" + UniqueSuffix();
  backend_ = GetParam()(clock_);
  ASSERT_NE(backend_, nullptr);
}

SessionClaims RevocationStoreContract::Session(const std::string& session_id,
                                               const std::string& family,
                                               std::optional<absl::Time> issued_at,
                                               const std::string& user) const {
  return TestClaims(
      {.directory_id = dir_, .user_id = user, .session_id = session_id, .family_id = family},
      issued_at.value_or(clock_.Now()));
}

bool RevocationStoreContract::Revoked(const SessionClaims& claims) {
  absl::StatusOr<bool> revoked = store().IsRevoked(claims);
  EXPECT_TRUE(revoked.ok()) << revoked.status();
  return revoked.value_or(false);
}

void RevocationStoreContract::ExpectTimeToLive(const std::string& key, absl::Duration expected) {
  absl::StatusOr<absl::Duration> ttl = backend_->TimeToLive(key);
  ASSERT_TRUE(ttl.ok()) << key << ": " << ttl.status();
  EXPECT_LE(*ttl, expected) << key;
  EXPECT_GT(*ttl, expected - absl::Seconds(5)) << key;
}

namespace {

TEST_P(RevocationStoreContract, ARevokedSessionIsRevokedAndNoOtherOne) {
  const SessionClaims gone = Session("ses_gone", "ses_gone");
  const SessionClaims other = Session("ses_other", "ses_other");
  SessionClaims elsewhere = gone;
  elsewhere.directory_id = dir_ + "x";
  EXPECT_FALSE(Revoked(gone));
  ASSERT_TRUE(store().RevokeSession(gone).ok());
  EXPECT_TRUE(Revoked(gone));
  EXPECT_FALSE(Revoked(other));
  EXPECT_FALSE(Revoked(elsewhere));
  // Revoking twice is fine.
  EXPECT_TRUE(store().RevokeSession(gone).ok());
  EXPECT_TRUE(Revoked(gone));
}

TEST_P(RevocationStoreContract, RevokingAnyMemberOfAFamilyRevokesTheWholeFamily) {
  // A login's token starts its family; a step-up's joins it.
  const SessionClaims login = Session("ses_login", "ses_login");
  const SessionClaims step_up = Session("ses_stepup", "ses_login");
  const SessionClaims unrelated = Session("ses_unrelated", "ses_unrelated");
  ASSERT_TRUE(store().RevokeSession(step_up).ok());
  EXPECT_TRUE(Revoked(login));
  EXPECT_TRUE(Revoked(step_up));
  EXPECT_FALSE(Revoked(unrelated));

  const SessionClaims login2 = Session("ses_login2", "ses_login2");
  const SessionClaims step_up2 = Session("ses_stepup2", "ses_login2");
  ASSERT_TRUE(store().RevokeSession(login2).ok());
  EXPECT_TRUE(Revoked(step_up2));
}

TEST_P(RevocationStoreContract, ATokenWithoutAFamilyIsAFamilyOfItsOwn) {
  const SessionClaims old_style = Session("ses_old");
  const SessionClaims step_up = Session("ses_child", "ses_old");
  ASSERT_TRUE(store().RevokeSession(old_style).ok());
  EXPECT_TRUE(Revoked(old_style));
  EXPECT_TRUE(Revoked(step_up));
}

TEST_P(RevocationStoreContract, SessionRecordsLiveUntilExpiryPlusTheLeeway) {
  // Verifiers accept a token until exp + the leeway: a record gone at exp would let it back in.
  const SessionClaims claims = Session("ses_ttl", "fam_ttl");
  ASSERT_TRUE(store().RevokeSession(claims).ok());
  ExpectTimeToLive(RevokedSessionKey(dir_, "ses_ttl"), absl::Hours(1) + kTokenLeeway);
  ExpectTimeToLive(RevokedFamilyKey(dir_, "fam_ttl"), absl::Hours(1) + kTokenLeeway);
}

TEST_P(RevocationStoreContract, ATokenInsideItsLeewayIsStillRevoked) {
  // Expired 10 s ago: verifiers still take it for another 20 s.
  const SessionClaims claims =
      Session("ses_leeway", "ses_leeway", clock_.Now() - absl::Hours(1) - absl::Seconds(10));
  ASSERT_TRUE(store().RevokeSession(claims).ok());
  EXPECT_TRUE(Revoked(claims));
  ExpectTimeToLive(RevokedSessionKey(dir_, "ses_leeway"), kTokenLeeway - absl::Seconds(10));
}

TEST_P(RevocationStoreContract, ATokenPastItsLeewayNeedsNoRecord) {
  const SessionClaims claims =
      Session("ses_dead", "ses_dead", clock_.Now() - absl::Hours(1) - kTokenLeeway);
  ASSERT_TRUE(store().RevokeSession(claims).ok());
  EXPECT_EQ(backend_->TimeToLive(RevokedSessionKey(dir_, "ses_dead")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(RevocationStoreContract, AUserRevocationEndsEarlierSessionsAndNotLaterOnes) {
  // The revocation lands in the middle of a second: a session issued 100 ms before it is dead,
  // one issued 100 ms after it (a new login right after a password change) lives, although both
  // have the same JWT "iat" second.
  const absl::Time second = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now()));
  const absl::Time at = second + absl::Milliseconds(500);
  const SessionClaims before = Session("ses_before", "ses_before", at - absl::Milliseconds(100));
  const SessionClaims same_ms = Session("ses_tie", "ses_tie", at);
  const SessionClaims after = Session("ses_after", "ses_after", at + absl::Milliseconds(100));
  const SessionClaims bob = Session("ses_bob", "ses_bob", at - absl::Minutes(1), "usr_bob");
  ASSERT_TRUE(store().RevokeUser(dir_, "usr_alice", at).ok());
  EXPECT_TRUE(Revoked(before));
  EXPECT_TRUE(Revoked(same_ms));
  EXPECT_FALSE(Revoked(after));
  EXPECT_FALSE(Revoked(bob));
  SessionClaims elsewhere = before;
  elsewhere.directory_id = dir_ + "x";
  EXPECT_FALSE(Revoked(elsewhere));
}

TEST_P(RevocationStoreContract, AUserMarkOnlyMovesForward) {
  const absl::Time first = clock_.Now();
  const SessionClaims between = Session("ses_between", "", first + absl::Seconds(5));
  ASSERT_TRUE(store().RevokeUser(dir_, "usr_alice", first + absl::Seconds(10)).ok());
  // A slower writer with an older time must not bring `between` back.
  ASSERT_TRUE(store().RevokeUser(dir_, "usr_alice", first).ok());
  EXPECT_TRUE(Revoked(between));
  const SessionClaims later = Session("ses_later", "", first + absl::Seconds(11));
  EXPECT_FALSE(Revoked(later));
  ASSERT_TRUE(store().RevokeUser(dir_, "usr_alice", first + absl::Seconds(20)).ok());
  EXPECT_TRUE(Revoked(later));
}

TEST_P(RevocationStoreContract, AUserMarkLivesAsLongAsATokenIssuedBeforeIt) {
  ASSERT_TRUE(store().RevokeUser(dir_, "usr_alice", clock_.Now()).ok());
  ExpectTimeToLive(UserRevokedKey(dir_, "usr_alice"), kMaxSessionLifetime + kTokenLeeway);
  EXPECT_EQ(store().RevokeUser(dir_, "", clock_.Now()).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::testing
