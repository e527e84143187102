// The Authenticator's revocation check (common/auth/revocation.h) on the in-memory store, the
// store contract on it, and the parts of RedisRevocationStore that need no Redis (the keys,
// failing closed when Redis is unreachable). The Redis store against a real Redis:
// tests/integration/redis/revocation_store_test.cc.

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/auth/redis_revocation_store.h"
#include "common/auth/revocation.h"
#include "common/auth/testing/in_memory_revocation_store.h"
#include "common/auth/testing/revocation_store_contract.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::tally::testing::FakeClock;
using ::tally::testing::InMemoryRevocationStore;
using ::tally::testing::RevocationStoreContract;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://tally.test";
constexpr char kPlatformKey[] = "platform-secret-123";

class InMemoryBackend final : public testing::RevocationBackend {
 public:
  explicit InMemoryBackend(const Clock& clock) : store_(clock) {}
  RevocationStore& store() override { return store_; }
  absl::StatusOr<absl::Duration> TimeToLive(const std::string& key) override {
    return store_.TimeToLive(key);
  }

 private:
  InMemoryRevocationStore store_;
};

std::unique_ptr<testing::RevocationBackend> MakeInMemoryBackend(const Clock& clock) {
  return std::make_unique<InMemoryBackend>(clock);
}

INSTANTIATE_TEST_SUITE_P(InMemory, RevocationStoreContract,
                         ::testing::Values(&MakeInMemoryBackend));

class RevocationTest : public ::testing::Test {
 protected:
  RevocationTest()
      : signer_(*Ed25519PrivateKey::Generate()),
        revocations_(std::make_shared<InMemoryRevocationStore>(clock_)),
        authenticator_(kPlatformKey, Verifier(), revocations_) {}

  std::shared_ptr<const JwtVerifier> Verifier() const {
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    return std::make_shared<const JwtVerifier>(
        *JwtVerifier::FromKeys({signer_.PublicKey()}, options, clock_));
  }

  SessionClaims Claims(const std::string& sid, std::string dir = "dir_acme") const {
    return testing::TestClaims({.directory_id = std::move(dir),
                                .user_id = "usr_alice",
                                .roles = {"admin"},
                                .session_id = sid,
                                .issuer = kIssuer},
                               clock_.Now());
  }
  std::string Bearer(const SessionClaims& claims) const {
    return absl::StrCat("Bearer ", *signer_.Sign(claims));
  }
  std::string Bearer(const std::string& sid, std::string dir = "dir_acme") const {
    return Bearer(Claims(sid, std::move(dir)));
  }
  absl::StatusCode Code(const std::string& bearer) const {
    return authenticator_.Authenticate(std::nullopt, bearer).status().code();
  }

  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  JwtSigner signer_;
  std::shared_ptr<InMemoryRevocationStore> revocations_;
  Authenticator authenticator_;
};

TEST_F(RevocationTest, LiveSessionIsAcceptedAfterOneLookup) {
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, Bearer("ses_live"));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->kind, Caller::Kind::kUser);
  EXPECT_EQ(revocations_->lookups(), 1);
  EXPECT_TRUE(authenticator_.enforces_revocation());
  EXPECT_TRUE(authenticator_.accepts_tokens());
}

TEST_F(RevocationTest, RevokedSessionIsUnauthenticated) {
  ASSERT_TRUE(revocations_->RevokeSession(Claims("ses_gone")).ok());
  const std::string bearer = Bearer("ses_gone");
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, bearer);
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(caller.status().message(), "invalid session token: revoked");
  // Another session of the same user, and the same sid in another directory, are not revoked.
  EXPECT_TRUE(authenticator_.Authenticate(std::nullopt, Bearer("ses_other")).ok());
  EXPECT_TRUE(authenticator_.Authenticate(std::nullopt, Bearer("ses_gone", "dir_other")).ok());
}

TEST_F(RevocationTest, ARevokedTokenStaysDeadThroughTheVerifiersLeeway) {
  // The attacker holds a token revoked a second before it expires and replays it while
  // verifiers still accept it (exp + 30 s): the record must outlive exp by the leeway.
  SessionClaims claims = Claims("ses_short");
  claims.expires_at = clock_.Now() + absl::Seconds(1);
  const std::string bearer = Bearer(claims);
  ASSERT_TRUE(revocations_->RevokeSession(claims).ok());
  clock_.Advance(absl::Seconds(1) + absl::Seconds(29));  // exp + 29 s: the signature still passes
  EXPECT_EQ(Code(bearer), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(authenticator_.Authenticate(std::nullopt, bearer).status().message(),
              HasSubstr("revoked"));
  clock_.Advance(absl::Seconds(2));  // 31 s after exp: refused as expired, the record may go
  EXPECT_EQ(Code(bearer), absl::StatusCode::kUnauthenticated);
}

TEST_F(RevocationTest, RevokingAStepUpTokenRevokesItsLoginsTokenAndTheOtherWayRound) {
  SessionClaims login = Claims("ses_login");
  login.family_id = "ses_login";
  SessionClaims step_up = Claims("ses_stepup");
  step_up.family_id = "ses_login";
  SessionClaims other_login = Claims("ses_other");
  other_login.family_id = "ses_other";
  ASSERT_EQ(Code(Bearer(login)), absl::StatusCode::kOk);
  ASSERT_TRUE(revocations_->RevokeSession(step_up).ok());
  EXPECT_EQ(Code(Bearer(login)), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(Bearer(step_up)), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(Bearer(other_login)), absl::StatusCode::kOk);

  SessionClaims login2 = Claims("ses_login2");
  login2.family_id = "ses_login2";
  SessionClaims step_up2 = Claims("ses_stepup2");
  step_up2.family_id = "ses_login2";
  ASSERT_TRUE(revocations_->RevokeSession(login2).ok());
  EXPECT_EQ(Code(Bearer(step_up2)), absl::StatusCode::kUnauthenticated);
}

TEST_F(RevocationTest, AUserRevocationEndsOlderTokensAndNotALoginRightAfterIt) {
  // Issued half a second into a second; the password changes 300 ms later, and the user logs in
  // again 200 ms after that, in the same second: the tokens' "iat" seconds are equal, so only
  // the milliseconds tell the stolen token from the new one.
  clock_.Set(absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(500));
  const std::string stolen = Bearer("ses_stolen");
  clock_.Advance(absl::Milliseconds(300));
  ASSERT_TRUE(revocations_->RevokeUser("dir_acme", "usr_alice", clock_.Now()).ok());
  clock_.Advance(absl::Milliseconds(200));
  const std::string relogin = Bearer("ses_relogin");
  EXPECT_EQ(Code(stolen), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(relogin), absl::StatusCode::kOk);
  // Another directory's user of the same id is untouched.
  EXPECT_EQ(Code(Bearer("ses_elsewhere", "dir_other")), absl::StatusCode::kOk);
}

TEST_F(RevocationTest, StoreDownFailsClosedWithUnavailable) {
  revocations_->Fail(absl::UnavailableError("redis: connection refused"));
  const std::string bearer = Bearer("ses_live");
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, bearer);
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(caller.status().message(), HasSubstr("revoked"));
  EXPECT_THAT(caller.status().message(), Not(HasSubstr(bearer.substr(7, 20))));
  // Any other failure of the store is UNAVAILABLE too: never an accepted, unchecked token.
  revocations_->Fail(absl::InternalError("unexpected reply"));
  EXPECT_EQ(Code(bearer), absl::StatusCode::kUnavailable);
}

TEST_F(RevocationTest, PlatformKeyAnonymousAndBadTokensNeverReachTheStore) {
  revocations_->Fail(absl::UnavailableError("redis down"));
  ASSERT_TRUE(authenticator_.Authenticate(kPlatformKey, std::nullopt).ok());
  ASSERT_TRUE(authenticator_.Authenticate(std::nullopt, std::nullopt).ok());
  const std::string old_token = Bearer("ses_old");
  std::string forged = Bearer("ses_live");
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(Code(forged), absl::StatusCode::kUnauthenticated);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(Code(old_token), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(revocations_->lookups(), 0);
}

TEST_F(RevocationTest, WithoutACheckerRevocationIsNotEnforced) {
  // Only in tests of other parts: services cannot start this way (AuthenticatorFromFlags).
  const Authenticator unchecked(kPlatformKey, Verifier());
  EXPECT_FALSE(unchecked.enforces_revocation());
  ASSERT_TRUE(revocations_->RevokeSession(Claims("ses_gone")).ok());
  EXPECT_TRUE(unchecked.Authenticate(std::nullopt, Bearer("ses_gone")).ok());
  EXPECT_EQ(revocations_->lookups(), 0);
}

TEST(RevocationKeysTest, EveryKeyIsTaggedByDirectory) {
  EXPECT_EQ(RevokedSessionKey("dir_acme", "ses_1"), "{dir_acme}:revoked:ses_1");
  EXPECT_EQ(RevokedFamilyKey("dir_acme", "ses_1"), "{dir_acme}:revoked-family:ses_1");
  EXPECT_EQ(UserRevokedKey("dir_acme", "usr_1"), "{dir_acme}:user-revoked:usr_1");
}

TEST(RedisRevocationStoreTest, UnreachableRedisIsUnavailableAndTheAuthenticatorRefuses) {
  testing::FakeClock clock;
  // Port 1 on loopback: nothing listens there, the connect is refused at once.
  absl::StatusOr<RedisOptions> redis = ParseRedisUrl("redis://127.0.0.1:1");
  ASSERT_TRUE(redis.ok()) << redis.status();
  std::shared_ptr<RedisRevocationStore> store = RevocationStoreFor(*redis, clock);
  const SessionClaims c = testing::TestClaims(
      {.directory_id = "dir_acme", .user_id = "usr_alice", .session_id = "ses_1", .issuer = kIssuer},
      clock.Now());
  EXPECT_EQ(store->IsRevoked(c).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->RevokeSession(c).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->RevokeUser("dir_acme", "usr_alice", clock.Now()).code(),
            absl::StatusCode::kUnavailable);

  JwtSigner signer(*Ed25519PrivateKey::Generate());
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  auto verifier = std::make_shared<const JwtVerifier>(
      *JwtVerifier::FromKeys({signer.PublicKey()}, options, clock));
  const Authenticator authenticator(kPlatformKey, verifier, store);
  EXPECT_EQ(authenticator.Authenticate(std::nullopt, absl::StrCat("Bearer ", *signer.Sign(c)))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  // The platform key needs no Redis.
  EXPECT_TRUE(authenticator.Authenticate(kPlatformKey, std::nullopt).ok());
}

}  // namespace
}  // namespace tally
