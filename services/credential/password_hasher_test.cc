#include "services/credential/password_hasher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Cheap parameters for everything but the known answers and the default-parameter check.
constexpr Argon2Params kFast{.memory_kib = 256, .iterations = 1, .parallelism = 1};

// Deterministic "randomness" for tests that need to know the salt.
class CountingRandom final : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) b = next_++;
  }

 private:
  uint8_t next_ = 0;
};

struct KnownAnswer {
  Argon2Params params;
  const char* password;
  const char* salt;
  const char* phc;
};

// The argon2id (version 0x13) vectors of the reference implementation's test suite,
// phc-winner-argon2 src/test.c: hashtest(version, t, log2(m), p, pwd, salt, hex, encoded).
const KnownAnswer kReferenceVectors[] = {
    {{65536, 2, 1}, "password", "somesalt",
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
    {{262144, 2, 1}, "password", "somesalt",
     "$argon2id$v=19$m=262144,t=2,p=1$c29tZXNhbHQ$eP4eyR+zqlZX1y5xCFTkw9m5GYx0L5YWwvCFvtlbLow"},
    {{256, 2, 1}, "password", "somesalt",
     "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
    {{256, 2, 2}, "password", "somesalt",
     "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
    {{65536, 1, 1}, "password", "somesalt",
     "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
    {{65536, 4, 1}, "password", "somesalt",
     "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$kCXUjmjvc5XMqQedpMTsOv+zyJEf5PhtGiUghW9jFyw"},
    {{65536, 2, 1}, "differentpassword", "somesalt",
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
    {{65536, 2, 1}, "password", "diffsalt",
     "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw"},
};

TEST(PasswordHasherTest, ReproducesTheReferenceVectors) {
  for (const KnownAnswer& v : kReferenceVectors) {
    absl::StatusOr<std::string> raw = PasswordHasher::Derive(v.password, v.salt, v.params, 32);
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_EQ(EncodePhc({v.params, v.salt, *raw}), v.phc);
  }
}

TEST(PasswordHasherTest, VerifiesTheReferenceStrings) {
  CountingRandom random;
  // Current parameters equal to the vector's: a match needs no re-hash.
  const PasswordHasher hasher({65536, 2, 1}, random);
  absl::StatusOr<PasswordHasher::Verdict> ok = hasher.Verify(kReferenceVectors[0].phc, "password");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->match);
  // An 8-byte salt is shorter than ours, so even a match asks for a re-hash.
  EXPECT_TRUE(ok->needs_rehash);
  absl::StatusOr<PasswordHasher::Verdict> wrong =
      hasher.Verify(kReferenceVectors[0].phc, "Password");
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(wrong->match);
  EXPECT_TRUE(hasher.Verify(kReferenceVectors[2].phc, "password")->match);
  EXPECT_FALSE(hasher.Verify(kReferenceVectors[2].phc, "passwore")->match);
}

TEST(PasswordHasherTest, HashesInPhcFormWithAFreshSixteenByteSaltAndVerifies) {
  CountingRandom random;
  const PasswordHasher hasher(kFast, random);
  absl::StatusOr<std::string> first = hasher.Hash("correct horse");
  absl::StatusOr<std::string> second = hasher.Hash("correct horse");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_THAT(*first, StartsWith("$argon2id$v=19$m=256,t=1,p=1$"));
  EXPECT_NE(*first, *second);  // salts differ
  absl::StatusOr<Argon2idHash> parsed = ParsePhc(*first);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->params, kFast);
  EXPECT_EQ(parsed->salt.size(), PasswordHasher::kSaltBytes);
  EXPECT_EQ(parsed->hash.size(), PasswordHasher::kHashBytes);
  EXPECT_EQ(parsed->salt, std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
                                      "\x0e\x0f",
                                      16));
  EXPECT_EQ(EncodePhc(*parsed), *first);

  EXPECT_TRUE(hasher.Verify(*first, "correct horse")->match);
  EXPECT_FALSE(hasher.Verify(*first, "correct horse ")->match);
  EXPECT_FALSE(hasher.Verify(*first, "Correct horse")->match);
  EXPECT_FALSE(hasher.Verify(*first, "correct horse")->needs_rehash);
}

TEST(PasswordHasherTest, AsksForARehashWhenAnyParameterChanged) {
  CountingRandom random;
  const std::string old_hash = *PasswordHasher(kFast, random).Hash("pw-123456");
  for (Argon2Params now : {Argon2Params{512, 1, 1}, Argon2Params{256, 2, 1},
                           Argon2Params{256, 1, 2}}) {
    absl::StatusOr<PasswordHasher::Verdict> v = PasswordHasher(now, random).Verify(old_hash,
                                                                                   "pw-123456");
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->match);  // checked with the stored parameters, not the current ones
    EXPECT_TRUE(v->needs_rehash);
  }
}

TEST(PasswordHasherTest, DefaultParametersAreOwaspsAndWork) {
  const Argon2Params defaults;
  EXPECT_EQ(defaults.memory_kib, 19456u);
  EXPECT_EQ(defaults.iterations, 2u);
  EXPECT_EQ(defaults.parallelism, 1u);
  const PasswordHasher hasher(defaults, CsprngRandom::Get());
  absl::StatusOr<std::string> hash = hasher.Hash("default parameters");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_THAT(*hash, StartsWith("$argon2id$v=19$m=19456,t=2,p=1$"));
  absl::StatusOr<PasswordHasher::Verdict> v = hasher.Verify(*hash, "default parameters");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->match);
  EXPECT_FALSE(v->needs_rehash);
}

TEST(ParsePhcTest, RefusesAnythingButCanonicalArgon2id) {
  const std::string good =
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
  ASSERT_TRUE(ParsePhc(good).ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "argon2id", "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$t=2,m=256,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=-256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=4,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=2,p=1,data=abc$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR-uIPnA4rEsF5h7TKyQwu9U1bMCHGi_4",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQ",
           "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4$",
       }) {
    absl::StatusOr<Argon2idHash> parsed = ParsePhc(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!parsed.ok()) {
      EXPECT_THAT(parsed.status().message(), Not(HasSubstr("c29t"))) << bad;
    }
  }
  CountingRandom random;
  EXPECT_EQ(PasswordHasher(kFast, random).Verify("$2b$12$bcrypt", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Argon2ParamsTest, Bounds) {
  EXPECT_TRUE(ValidateArgon2Params({}).ok());
  EXPECT_TRUE(ValidateArgon2Params({8, 1, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({7, 1, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({15, 1, 2}).ok());
  EXPECT_FALSE(ValidateArgon2Params({1024, 0, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({1024, 65, 1}).ok());
  EXPECT_FALSE(ValidateArgon2Params({1024, 1, 0}).ok());
  EXPECT_FALSE(ValidateArgon2Params({1024, 1, 17}).ok());
  EXPECT_FALSE(ValidateArgon2Params({4u * 1024 * 1024 + 1, 1, 1}).ok());
}

}  // namespace
}  // namespace tally::credential
