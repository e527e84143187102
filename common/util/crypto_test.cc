#include "common/util/crypto.h"

#include "gtest/gtest.h"

// DecodeSecret, HMAC-SHA256 and AES-GCM round trips are also covered by
// services/otp/otp_crypto_test.cc, where they were first used.
namespace tally {
namespace {

TEST(CryptoTest, HmacMatchesRfc2202AndRfc4231) {
  // RFC 2202 test case 2 (SHA-1) and RFC 4231 test case 2 (SHA-512).
  EXPECT_EQ(HexEncode(Hmac(HashAlgorithm::kSha1, "Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(HexEncode(Hmac(HashAlgorithm::kSha512, "Jefe", "what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d03"
            "4f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  EXPECT_EQ(HmacSha256("Jefe", "what do ya want for nothing?"),
            Hmac(HashAlgorithm::kSha256, "Jefe", "what do ya want for nothing?"));
}

TEST(CryptoTest, Sha256MatchesFips180Example) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, SealedTextOpensOnlyWithItsAad) {
  const std::string key(32, 'k');
  const std::string sealed =
      SealAesGcm(key, "JBSWY3DPEHPK3PXP", "dir_a/usr_a", CsprngRandom::Get());
  ASSERT_TRUE(OpenAesGcm(key, sealed, "dir_a/usr_a").ok());
  EXPECT_EQ(*OpenAesGcm(key, sealed, "dir_a/usr_a"), "JBSWY3DPEHPK3PXP");
  EXPECT_EQ(OpenAesGcm(key, sealed, "dir_a/usr_b").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tally
