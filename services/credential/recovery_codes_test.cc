#include "services/credential/recovery_codes.h"

#include <cmath>
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

TEST(RecoveryCodesTest, AlphabetHasNoLookAlikes) {
  for (char c : std::string("0Oo1lIiL")) {
    EXPECT_EQ(kRecoveryCodeAlphabet.find(c), absl::string_view::npos) << c;
  }
  EXPECT_EQ(std::set<char>(kRecoveryCodeAlphabet.begin(), kRecoveryCodeAlphabet.end()).size(),
            kRecoveryCodeAlphabet.size());
  // At least 50 bits per code (DESIGN.md §6).
  EXPECT_GE(kRecoveryCodeLength * std::log2(kRecoveryCodeAlphabet.size()), 50.0);
}

TEST(RecoveryCodesTest, CodesAreGroupedAndUseTheWholeAlphabetEvenly) {
  std::map<char, int> counts;
  std::set<std::string> codes;
  constexpr int kCodes = 4000;
  for (int i = 0; i < kCodes; ++i) {
    const std::string code = GenerateRecoveryCode(CsprngRandom::Get());
    ASSERT_THAT(code, ::testing::MatchesRegex("[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{3}"));
    codes.insert(code);
    for (char c : code) {
      if (c != '-') ++counts[c];
    }
  }
  EXPECT_EQ(codes.size(), static_cast<size_t>(kCodes));  // 64 bits: no repeats
  ASSERT_EQ(counts.size(), kRecoveryCodeAlphabet.size());
  // 52000 characters over 31 symbols: about 1677 each; a biased draw (byte % 31 without
  // rejection) would give the first 8 symbols about 3% more. Bounds of ±10% fail only on a
  // broken generator.
  const double mean = kCodes * kRecoveryCodeLength / 31.0;
  for (const auto& [c, n] : counts) {
    EXPECT_NEAR(n, mean, mean * 0.1) << c;
  }
}

class QueuedBytes final : public RandomSource {
 public:
  explicit QueuedBytes(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) b = bytes_.at(next_++);
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t next_ = 0;
};

TEST(RecoveryCodesTest, DrawsAboveTheLastWholeAlphabetAreRejected) {
  // 248..255 would favour the first 8 symbols: skipped. 0 → '2', 30 → 'z', 247 % 31 = 30.
  QueuedBytes random({255, 248, 0, 30, 247, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(GenerateRecoveryCode(random), "2zz22-22222-222");
}

TEST(RecoveryCodesTest, NormalisesWhatUsersType) {
  EXPECT_EQ(NormalizeRecoveryCode("abcde-fghjk-mnp"), "abcdefghjkmnp");
  EXPECT_EQ(NormalizeRecoveryCode(" ABCDE FGHJK-MNP "), "abcdefghjkmnp");
  EXPECT_EQ(NormalizeRecoveryCode("abcdefghjkmnp"), "abcdefghjkmnp");
  EXPECT_EQ(NormalizeRecoveryCode("abcde-fghjk-mn"), std::nullopt);    // too short
  EXPECT_EQ(NormalizeRecoveryCode("abcde-fghjk-mnpq"), std::nullopt);  // too long
  EXPECT_EQ(NormalizeRecoveryCode("abcde-fghjk-mn0"), std::nullopt);   // not in the alphabet
  EXPECT_EQ(NormalizeRecoveryCode("abcde_fghjk_mnp"), std::nullopt);
  EXPECT_EQ(NormalizeRecoveryCode(""), std::nullopt);
}

TEST(RecoveryCodesTest, MacBindsKeyDirectoryUserAndCode) {
  const std::string key(32, 'k');
  const std::string mac = RecoveryCodeMac(key, "dir_a", "usr_a", "abcdefghjkmnp");
  EXPECT_EQ(mac.size(), 64u);
  EXPECT_NE(mac, RecoveryCodeMac(key, "dir_a", "usr_b", "abcdefghjkmnp"));
  EXPECT_NE(mac, RecoveryCodeMac(key, "dir_b", "usr_a", "abcdefghjkmnp"));
  EXPECT_NE(mac, RecoveryCodeMac(key, "dir_a", "usr_a", "abcdefghjkmnq"));
  EXPECT_NE(mac, RecoveryCodeMac(std::string(32, 'x'), "dir_a", "usr_a", "abcdefghjkmnp"));
  // Length-prefixed fields: moving a character between fields changes the MAC.
  EXPECT_NE(RecoveryCodeMac(key, "dir_a", "usr_ab", "cdefghjkmnpqr"),
            RecoveryCodeMac(key, "dir_a", "usr_a", "bcdefghjkmnpqr"));
}

}  // namespace
}  // namespace tally::credential
