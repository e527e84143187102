#include "common/util/text.h"

#include <string>

#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Zoë Ångström"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x94\x91"));  // U+1F511
}

TEST(Utf8Test, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));                  // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));          // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8(std::string("a\x80", 2)));  // stray continuation
}

TEST(TextTest, ControlCharacters) {
  EXPECT_FALSE(HasControlCharacters("Acme B.V."));
  EXPECT_TRUE(HasControlCharacters("line\nbreak"));
  EXPECT_TRUE(HasControlCharacters(std::string("nul\0", 4)));
  EXPECT_TRUE(HasControlCharacters("\xC2\x85"));  // NEL
}

TEST(TextTest, Ids) {
  EXPECT_TRUE(IsValidId("dir_abc-123"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId("a b"));
  EXPECT_TRUE(CheckId("user_id", "usr_1").ok());
  EXPECT_EQ(CheckId("user_id", "").message(), "user_id is required");
  EXPECT_EQ(CheckId("user_id", "a b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckId("user_id", "a b").message(),
            "user_id must be 1 to 128 characters of letters, digits, '_' and '-'");
}

TEST(TextTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
}

TEST(TextTest, Base32MatchesRfc4648Vectors) {
  // RFC 4648 §10, without the padding.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "MY"},           {"fo", "MZXQ"},           {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    std::string decoded;
    ASSERT_TRUE(Base32Decode(encoded, &decoded)) << encoded;
    EXPECT_EQ(decoded, plain);
  }
  std::string decoded;
  ASSERT_TRUE(Base32Decode("mzxw-6ytb oi======", &decoded));  // as typed by hand
  EXPECT_EQ(decoded, "foobar");
  EXPECT_FALSE(Base32Decode("MZXW1", &decoded));  // 1 is not in the alphabet
  EXPECT_FALSE(Base32Decode("MZ", &decoded));  // trailing bits set: not what MY encodes
}

TEST(TextTest, Base64UrlRoundTrip) {
  const std::string data("\xFB\xFF\x00\x01hello", 8);
  const std::string encoded = Base64UrlEncode(data);
  EXPECT_EQ(encoded.find('='), std::string::npos);
  EXPECT_EQ(encoded.find('+'), std::string::npos);
  std::string decoded;
  ASSERT_TRUE(Base64UrlDecode(encoded, &decoded));
  EXPECT_EQ(decoded, data);
  EXPECT_FALSE(Base64UrlDecode("ab+/", &decoded));
  EXPECT_FALSE(Base64UrlDecode("a b", &decoded));
}

}  // namespace
}  // namespace tally
