#include "common/auth/jwks_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::tally::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://tally.test";
constexpr absl::Duration kRefresh = absl::Seconds(60);

std::string Jwks(const std::vector<const JwtSigner*>& signers) {
  std::vector<Ed25519PublicKey> keys;
  for (const JwtSigner* signer : signers) keys.push_back(signer->PublicKey());
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  FakeClock clock;
  return JwtVerifier::FromKeys(keys, options, clock)->ToJwks();
}

class JwksFileVerifierTest : public ::testing::Test {
 protected:
  JwksFileVerifierTest()
      : old_key_(*Ed25519PrivateKey::Generate()), new_key_(*Ed25519PrivateKey::Generate()) {}
  ~JwksFileVerifierTest() override { std::remove(path_.c_str()); }

  void Write(const std::string& text) {
    // A new file moved into place, as a ConfigMap update or `mv` does.
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0);
  }

  std::shared_ptr<const JwksFileVerifier> Load() {
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    auto verifier = JwksFileVerifier::Load(
        path_, options, clock_, kRefresh,
        [this](const absl::Status& status, const std::vector<std::string>& kids) {
          reports_.emplace_back(status, kids);
        });
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.value_or(nullptr);
  }

  std::string Token(const JwtSigner& signer) const {
    return *signer.Sign(testing::TestClaims(
        {.directory_id = "dir_acme", .user_id = "usr_alice", .session_id = "ses_1", .issuer = kIssuer},
        clock_.Now()));
  }

  // One file per test and process: ctest runs these tests in parallel, and a shared name let
  // one test's rename land on another's file.
  std::string path_ = absl::StrCat(
      ::testing::TempDir(), "/jwks_file_test_",
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_", getpid(), ".json");
  FakeClock clock_;
  JwtSigner old_key_, new_key_;
  std::vector<std::pair<absl::Status, std::vector<std::string>>> reports_;
};

TEST_F(JwksFileVerifierTest, ARotationOnDiskAppliesWithoutARestart) {
  Write(Jwks({&old_key_}));
  std::shared_ptr<const JwksFileVerifier> verifier = Load();
  ASSERT_NE(verifier, nullptr);
  const std::string old_token = Token(old_key_);
  EXPECT_TRUE(verifier->Verify(old_token).ok());
  EXPECT_EQ(verifier->Verify(Token(new_key_)).status().code(),
            absl::StatusCode::kUnauthenticated);

  // The operator publishes the new key next to the old one...
  Write(Jwks({&new_key_, &old_key_}));
  clock_.Advance(kRefresh);
  EXPECT_TRUE(verifier->Verify(Token(new_key_)).ok());
  EXPECT_TRUE(verifier->Verify(old_token).ok());
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(reports_[0].first.ok());
  EXPECT_EQ(reports_[0].second.size(), 2u);

  // ... then removes the old (compromised) one: its tokens are refused from the next look on.
  Write(Jwks({&new_key_}));
  clock_.Advance(kRefresh);
  absl::StatusOr<SessionClaims> refused = verifier->Verify(old_token);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), HasSubstr("unknown kid"));
  EXPECT_TRUE(verifier->Verify(Token(new_key_)).ok());
  EXPECT_THAT(verifier->Kids(), ElementsAre(new_key_.kid()));
}

TEST_F(JwksFileVerifierTest, TheFileIsLookedAtOncePerRefreshInterval) {
  Write(Jwks({&old_key_}));
  std::shared_ptr<const JwksFileVerifier> verifier = Load();
  ASSERT_NE(verifier, nullptr);
  Write(Jwks({&new_key_}));
  clock_.Advance(kRefresh - absl::Seconds(1));
  EXPECT_TRUE(verifier->Verify(Token(old_key_)).ok()) << "looked before the interval passed";
  EXPECT_TRUE(reports_.empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(verifier->Verify(Token(old_key_)).ok());
  EXPECT_TRUE(verifier->Verify(Token(new_key_)).ok());
}

TEST_F(JwksFileVerifierTest, ABrokenOrMissingFileKeepsTheKeysInUse) {
  Write(Jwks({&old_key_}));
  std::shared_ptr<const JwksFileVerifier> verifier = Load();
  ASSERT_NE(verifier, nullptr);
  Write("{\"keys\": [");  // half written
  clock_.Advance(kRefresh);
  EXPECT_TRUE(verifier->Verify(Token(old_key_)).ok());
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].first.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reports_[0].first.message(), HasSubstr(path_));

  ASSERT_EQ(std::remove(path_.c_str()), 0);
  clock_.Advance(kRefresh);
  EXPECT_TRUE(verifier->Verify(Token(old_key_)).ok());
  ASSERT_EQ(reports_.size(), 2u);
  EXPECT_FALSE(reports_[1].first.ok());

  // Fixed: taken at the next look.
  Write(Jwks({&new_key_}));
  clock_.Advance(kRefresh);
  EXPECT_TRUE(verifier->Verify(Token(new_key_)).ok());
  EXPECT_FALSE(verifier->Verify(Token(old_key_)).ok());
}

TEST_F(JwksFileVerifierTest, LoadRefusesWhatLoadJwksFileRefuses) {
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  EXPECT_EQ(JwksFileVerifier::Load(path_ + ".missing", options, clock_, kRefresh)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  Write("{}");
  EXPECT_EQ(JwksFileVerifier::Load(path_, options, clock_, kRefresh).status().code(),
            absl::StatusCode::kInvalidArgument);
  Write(Jwks({&old_key_}));
  EXPECT_EQ(JwksFileVerifier::Load(path_, options, clock_, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally
