#include "common/util/strict_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::Not;
using ::testing::HasSubstr;

std::string Nested(int arrays, const std::string& inside = "") {
  return std::string(arrays, '[') + inside + std::string(arrays, ']');
}

TEST(StrictJsonTest, ParsesAnyJsonValue) {
  absl::StatusOr<nlohmann::json> parsed =
      ParseStrictJson(R"({"a":[1,{"b":null}],"c":{"a":true},"d":"\u00e9"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["a"][1]["b"], nullptr);
  EXPECT_EQ((*parsed)["d"], "\xC3\xA9");
  EXPECT_EQ(*ParseStrictJson("[]"), nlohmann::json::array());
  EXPECT_EQ(*ParseStrictJson(" 42 "), 42);
  EXPECT_EQ(*ParseStrictJson(R"("text")"), "text");
}

TEST(StrictJsonTest, RefusesANameTwiceInOneObjectAtAnyDepth) {
  for (const char* twice : {R"({"sub":"a","sub":"b"})", R"({"x":{"k":1,"k":1}})",
                            R"([{"k":1},{"k":2,"j":0,"k":3}])", R"({"a":[{"b":{"c":0,"c":0}}]})",
                            R"({"\u0061":1,"a":2})"}) {
    absl::StatusOr<nlohmann::json> parsed = ParseStrictJson(twice);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << twice;
    EXPECT_EQ(parsed.status().message(), "duplicate object key") << twice;
  }
  // The same name in different objects is fine.
  EXPECT_TRUE(ParseStrictJson(R"({"k":{"k":{"k":1}},"j":[{"k":1},{"k":2}]})").ok());
}

TEST(StrictJsonTest, BoundsTheNesting) {
  EXPECT_TRUE(ParseStrictJson(Nested(kMaxStrictJsonDepth, "1")).ok());
  EXPECT_EQ(ParseStrictJson(Nested(kMaxStrictJsonDepth + 1, "1")).status().message(),
            "nested too deeply");
  EXPECT_TRUE(ParseStrictJson(Nested(3, "1"), 3).ok());
  EXPECT_EQ(ParseStrictJson(Nested(4, "1"), 3).status().message(), "nested too deeply");
  EXPECT_EQ(ParseStrictJson(R"({"a":{"b":{"c":1}}})", 2).status().message(), "nested too deeply");
  // Far deeper than any stack could take is refused the same way.
  EXPECT_EQ(ParseStrictJson(Nested(100000)).status().message(), "nested too deeply");
}

TEST(StrictJsonTest, RefusesWhatIsNotJsonWithoutQuotingIt) {
  for (const char* bad : {"", " ", "{", R"({"secret":1)", R"({"secret":1} x)", "{'secret':1}",
                          R"({"secret":01})", "[1,]", R"({"secret":NaN})", "nul",
                          R"({"secret":"a)" "\n" R"("})"}) {
    absl::StatusOr<nlohmann::json> parsed = ParseStrictJson(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(parsed.status().message(), "syntax error") << bad;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr("secret")));
  }
}

TEST(StrictJsonTest, RefusesTextThatIsNotUtf8) {
  for (const std::string& bad : {
           std::string("\"\xFF\""),                  // not a UTF-8 byte
           std::string("\"\xC0\xAF\""),              // overlong '/'
           std::string("\"\xED\xA0\x80\""),          // an encoded surrogate
           std::string("\"\xF4\x90\x80\x80\""),      // above U+10FFFF
           std::string("\"\xE2\x82\""),              // truncated
           std::string(R"("\ud800")"),               // a lone surrogate escape
           std::string(R"("\udc00\ud800")"),         // surrogates in the wrong order
           std::string("{\"a\":1}\xFF"),
       }) {
    EXPECT_EQ(ParseStrictJson(bad).status().message(), "syntax error") << bad;
  }
  absl::StatusOr<nlohmann::json> pair = ParseStrictJson(R"("\ud83d\ude00")");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(*pair, "\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace tally
