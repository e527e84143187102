#include "services/credential/totp.h"

#include "gtest/gtest.h"

namespace tally::credential {
namespace {

// RFC 6238 Appendix B: the seeds of the reference implementation, one per hash.
const std::string kSeed20 = "12345678901234567890";
const std::string kSeed32 = "12345678901234567890123456789012";
const std::string kSeed64 =
    "1234567890123456789012345678901234567890123456789012345678901234";

struct Rfc6238Vector {
  int64_t unix_seconds;
  const char* sha1;
  const char* sha256;
  const char* sha512;
};

TEST(TotpTest, MatchesRfc6238AppendixB) {
  const Rfc6238Vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const Rfc6238Vector& v : vectors) {
    const absl::Time t = absl::FromUnixSeconds(v.unix_seconds);
    TotpParams params;
    params.digits = 8;
    params.algorithm = HashAlgorithm::kSha1;
    EXPECT_EQ(Totp(params, kSeed20, t), v.sha1) << v.unix_seconds;
    params.algorithm = HashAlgorithm::kSha256;
    EXPECT_EQ(Totp(params, kSeed32, t), v.sha256) << v.unix_seconds;
    params.algorithm = HashAlgorithm::kSha512;
    EXPECT_EQ(Totp(params, kSeed64, t), v.sha512) << v.unix_seconds;
  }
  // The time steps the RFC's table lists beside them.
  EXPECT_EQ(TimeStep(absl::FromUnixSeconds(59), absl::Seconds(30)), 1);
  EXPECT_EQ(TimeStep(absl::FromUnixSeconds(1111111109), absl::Seconds(30)), 0x23523EC);
  EXPECT_EQ(TimeStep(absl::FromUnixSeconds(20000000000), absl::Seconds(30)), 0x27BC86AA);
}

TEST(TotpTest, MatchesRfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t count = 0; count < 10; ++count) {
    EXPECT_EQ(Hotp(HashAlgorithm::kSha1, kSeed20, count, 6), expected[count]) << count;
  }
}

TEST(TotpTest, AcceptsOneStepEitherSideAndSaysWhichStep) {
  const TotpParams params;  // SHA-1, 6 digits, 30 s, ±1
  const absl::Time now = absl::FromUnixSeconds(1700000015);
  const int64_t step = TimeStep(now, params.period);
  for (int64_t delta : {-1, 0, 1}) {
    const std::string code =
        Hotp(params.algorithm, kSeed20, static_cast<uint64_t>(step + delta), 6);
    EXPECT_EQ(MatchTotp(params, kSeed20, code, now), step + delta) << delta;
  }
  for (int64_t delta : {-2, 2}) {
    const std::string code =
        Hotp(params.algorithm, kSeed20, static_cast<uint64_t>(step + delta), 6);
    EXPECT_EQ(MatchTotp(params, kSeed20, code, now), std::nullopt) << delta;
  }
  EXPECT_EQ(MatchTotp(params, kSeed20, "", now), std::nullopt);
  EXPECT_EQ(MatchTotp(params, "another key 12345678", Totp(params, kSeed20, now), now),
            std::nullopt);
}

TEST(TotpTest, OtpauthUriEncodesIssuerAndAccount) {
  const TotpParams params;
  EXPECT_EQ(OtpauthUri("Acme", "alice", "12345678901234567890", params),
            "otpauth://totp/Acme:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme"
            "&algorithm=SHA1&digits=6&period=30");
  // Characters that would end the label or a parameter, spaces and UTF-8 are escaped.
  EXPECT_EQ(OtpauthUri("Acme & Co: Ünïts?#", "bob smith@x", "\x01", params),
            "otpauth://totp/Acme%20%26%20Co%3A%20%C3%9Cn%C3%AFts%3F%23:bob%20smith%40x"
            "?secret=AE&issuer=Acme%20%26%20Co%3A%20%C3%9Cn%C3%AFts%3F%23"
            "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace tally::credential
