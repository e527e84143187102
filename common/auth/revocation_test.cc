// The Authenticator's revocation check (common/auth/revocation.h) and the parts of
// RedisRevocationStore that need no Redis (the key, the URL, failing closed when Redis is
// unreachable). The store against a real Redis: tests/integration/redis/revocation_store_test.cc.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/auth/redis_revocation_store.h"
#include "common/auth/revocation.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://tally.test";
constexpr char kPlatformKey[] = "platform-secret-123";

// Revoked sessions in memory; counts lookups and can fail like a store that is down.
class FakeRevocations : public RevocationChecker {
 public:
  absl::StatusOr<bool> IsRevoked(absl::string_view directory_id,
                                 absl::string_view session_id) const override {
    absl::MutexLock lock(&mu_);
    ++lookups_;
    last_ = absl::StrCat(directory_id, "/", session_id);
    if (!status_.ok()) return status_;
    return revoked_.contains(last_);
  }
  void Revoke(absl::string_view dir, absl::string_view sid) {
    absl::MutexLock lock(&mu_);
    revoked_[absl::StrCat(dir, "/", sid)] = true;
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  int lookups() const {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }
  std::string last() const {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, bool> revoked_;
  absl::Status status_;
  mutable int lookups_ = 0;
  mutable std::string last_;
};

class RevocationTest : public ::testing::Test {
 protected:
  RevocationTest()
      : signer_(*Ed25519PrivateKey::Generate()),
        revocations_(std::make_shared<FakeRevocations>()),
        authenticator_(kPlatformKey, Verifier(), revocations_) {}

  std::shared_ptr<const JwtVerifier> Verifier() const {
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    return std::make_shared<const JwtVerifier>(
        *JwtVerifier::FromKeys({signer_.PublicKey()}, options, clock_));
  }

  std::string Bearer(const std::string& sid, std::string dir = "dir_acme") const {
    const SessionClaims c = testing::TestClaims({.directory_id = std::move(dir),
                                                 .user_id = "usr_alice",
                                                 .roles = {"admin"},
                                                 .session_id = sid,
                                                 .issuer = kIssuer},
                                                clock_.Now());
    return absl::StrCat("Bearer ", *signer_.Sign(c));
  }

  testing::FakeClock clock_;
  JwtSigner signer_;
  std::shared_ptr<FakeRevocations> revocations_;
  Authenticator authenticator_;
};

TEST_F(RevocationTest, LiveSessionIsAcceptedAfterOneLookupOfItsDirectoryAndSid) {
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, Bearer("ses_live"));
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->kind, Caller::Kind::kUser);
  EXPECT_EQ(revocations_->lookups(), 1);
  EXPECT_EQ(revocations_->last(), "dir_acme/ses_live");
  EXPECT_TRUE(authenticator_.enforces_revocation());
  EXPECT_TRUE(authenticator_.accepts_tokens());
}

TEST_F(RevocationTest, RevokedSessionIsUnauthenticated) {
  revocations_->Revoke("dir_acme", "ses_gone");
  const std::string bearer = Bearer("ses_gone");
  absl::StatusOr<Caller> caller = authenticator_.Authenticate(std::nullopt, bearer);
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(caller.status().message(), "invalid session token: revoked");
  // Another session of the same user, and the same sid in another directory, are not revoked.
  EXPECT_TRUE(authenticator_.Authenticate(std::nullopt, Bearer("ses_other")).ok());
  EXPECT_TRUE(authenticator_.Authenticate(std::nullopt, Bearer("ses_gone", "dir_other")).ok());
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
  EXPECT_EQ(authenticator_.Authenticate(std::nullopt, bearer).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RevocationTest, PlatformKeyAnonymousAndBadTokensNeverReachTheStore) {
  revocations_->Fail(absl::UnavailableError("redis down"));
  ASSERT_TRUE(authenticator_.Authenticate(kPlatformKey, std::nullopt).ok());
  ASSERT_TRUE(authenticator_.Authenticate(std::nullopt, std::nullopt).ok());
  const std::string old_token = Bearer("ses_old");
  std::string forged = Bearer("ses_live");
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(authenticator_.Authenticate(std::nullopt, forged).status().code(),
            absl::StatusCode::kUnauthenticated);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(authenticator_.Authenticate(std::nullopt, old_token).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(revocations_->lookups(), 0);
}

TEST_F(RevocationTest, WithoutACheckerRevocationIsNotEnforced) {
  const Authenticator unchecked(kPlatformKey, Verifier());
  EXPECT_FALSE(unchecked.enforces_revocation());
  revocations_->Revoke("dir_acme", "ses_gone");
  EXPECT_TRUE(unchecked.Authenticate(std::nullopt, Bearer("ses_gone")).ok());
  EXPECT_EQ(revocations_->lookups(), 0);
}

TEST(RedisRevocationStoreTest, KeyIsTaggedByDirectory) {
  EXPECT_EQ(RevokedSessionKey("dir_acme", "ses_1"), "{dir_acme}:revoked:ses_1");
}

TEST(RedisRevocationStoreTest, CheckerFromUrl) {
  testing::FakeClock clock;
  absl::StatusOr<std::shared_ptr<const RevocationChecker>> none =
      RevocationCheckerFromUrl("", "test", clock);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  absl::StatusOr<std::shared_ptr<const RevocationChecker>> bad =
      RevocationCheckerFromUrl("http://secret@host", "test", clock);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("secret")));
}

TEST(RedisRevocationStoreTest, UnreachableRedisIsUnavailableAndTheAuthenticatorRefuses) {
  testing::FakeClock clock;
  // Port 1 on loopback: nothing listens there, the connect is refused at once.
  absl::StatusOr<std::shared_ptr<const RevocationChecker>> checker =
      RevocationCheckerFromUrl("redis://127.0.0.1:1", "test", clock);
  ASSERT_TRUE(checker.ok()) << checker.status();
  ASSERT_NE(*checker, nullptr);
  EXPECT_EQ((*checker)->IsRevoked("dir_acme", "ses_1").status().code(),
            absl::StatusCode::kUnavailable);

  JwtSigner signer(*Ed25519PrivateKey::Generate());
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  auto verifier = std::make_shared<const JwtVerifier>(
      *JwtVerifier::FromKeys({signer.PublicKey()}, options, clock));
  const Authenticator authenticator(kPlatformKey, verifier, *checker);
  const SessionClaims c = testing::TestClaims(
      {.directory_id = "dir_acme", .user_id = "usr_alice", .session_id = "ses_1", .issuer = kIssuer},
      clock.Now());
  EXPECT_EQ(authenticator.Authenticate(std::nullopt, absl::StrCat("Bearer ", *signer.Sign(c)))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  // The platform key needs no Redis.
  EXPECT_TRUE(authenticator.Authenticate(kPlatformKey, std::nullopt).ok());
}

}  // namespace
}  // namespace tally
