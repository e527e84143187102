#include "common/util/contact.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

// The value of a normalisation that must succeed.
std::string Normal(const absl::StatusOr<std::string>& result) {
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : "(refused)";
}

TEST(CheckEmailAddressTest, AcceptsPlainAddressesAsGiven) {
  for (const char* good :
       {"a@b.co", "Jan.Jansen@Example.COM", "a+tag@mail.xn--p1ai", "o'brien@sub-domain.example.org",
        "!#$%&'*+/=?^_`{|}~-@example.org", "x@a-1.b-2.example", "1@2.example"}) {
    EXPECT_TRUE(CheckEmailAddress(good).ok()) << good;
  }
  EXPECT_TRUE(CheckEmailAddress(std::string(kMaxEmailLocalPartBytes, 'a') + "@example.com").ok());
  // 254 bytes in all: 64 + "@" + 189.
  const std::string longest = absl::StrCat(std::string(64, 'a'), "@", std::string(63, 'b'), ".",
                                           std::string(63, 'c'), ".", std::string(61, 'd'));
  ASSERT_EQ(longest.size(), kMaxEmailBytes);
  EXPECT_TRUE(CheckEmailAddress(longest).ok());
  EXPECT_THAT(CheckEmailAddress(longest + "e").message(), HasSubstr("longer than 254 bytes"));
}

TEST(CheckEmailAddressTest, NamesTheReasonWithoutQuotingTheInput) {
  struct Case {
    const char* address;
    const char* reason;
  };
  for (const Case& c : {
           Case{"", "no @"},
           Case{"secret.example.com", "no @"},
           Case{"a@b@example.com", "more than one @"},
           Case{"@example.com", "nothing before the @"},
           Case{"secret@", "nothing after the @"},
           Case{".secret@example.com", "dots may not"},
           Case{"sec..ret@example.com", "dots may not"},
           Case{"s\xC3\xA9" "cret@example.com", "must be ASCII"},
           Case{"sec ret@example.com", "special character"},
           Case{"\"secret\"@example.com", "special character"},
           Case{"secret@localhost", "needs a dot"},
           Case{"secret@example..com", "empty or overlong label"},
           Case{"secret@-example.com", "hyphen"},
           Case{"secret@exa_mple.com", "only letters, digits"},
           Case{"secret@10.0.0.1", "ends in a number"},
           Case{"secret@[10.0.0.1]", "only letters, digits"},
           Case{"tab\t@example.com", "control characters"},
           Case{"bad\xFF@example.com", "not UTF-8"},
       }) {
    const absl::Status status = CheckEmailAddress(c.address);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.address;
    EXPECT_THAT(status.message(), HasSubstr(c.reason)) << c.address;
    EXPECT_THAT(status.message(), Not(HasSubstr("secret"))) << c.address;
  }
  EXPECT_THAT(CheckEmailAddress(std::string(65, 'a') + "@example.com").message(),
              HasSubstr("longer than 64 bytes"));
  EXPECT_THAT(CheckEmailAddress("a@" + std::string(64, 'b') + ".com").message(),
              HasSubstr("overlong label"));
}

TEST(CheckEmailAddressTest, TakesTheAddressExactlyAsGiven) {
  // Surrounding space and upper case are for NormalizeEmailAddress to deal with; a destination
  // the OTP service gets must already be in its stored form.
  EXPECT_FALSE(CheckEmailAddress(" a@example.com").ok());
  EXPECT_FALSE(CheckEmailAddress("a@example.com\n").ok());
}

TEST(NormalizeEmailAddressTest, TrimsAndLowerCasesTheDomainOnly) {
  EXPECT_EQ(Normal(NormalizeEmailAddress("\t Ann.Lee@Mail.Example.ORG \r\n")),
            "Ann.Lee@mail.example.org");
  EXPECT_EQ(Normal(NormalizeEmailAddress(" \t ")), "");
  EXPECT_EQ(Normal(NormalizeEmailAddress("")), "");
  EXPECT_EQ(NormalizeEmailAddress(" no-at-sign ").status().message(), "no @");
  // What it returns passes the exact check and normalises to itself.
  const std::string normal = Normal(NormalizeEmailAddress(" X.Y+Z@Sub.Example.COM "));
  EXPECT_EQ(normal, "X.Y+Z@sub.example.com");
  EXPECT_TRUE(CheckEmailAddress(normal).ok());
  EXPECT_EQ(Normal(NormalizeEmailAddress(normal)), normal);
}

TEST(E164Test, IsE164TakesTheStoredFormOnly) {
  EXPECT_TRUE(IsE164("+31612345678"));
  EXPECT_TRUE(IsE164("+12345678"));         // kMinE164Digits
  EXPECT_TRUE(IsE164("+123456789012345"));  // kMaxE164Digits
  for (const char* bad : {"", "+", "+1234567", "+1234567890123456", "31612345678", "+031612345678",
                          "+31 612345678", "+31-612345678", " +31612345678", "+3161234567a",
                          "++31612345678", "+31\xEF\xBC\x96" "12345678"}) {
    EXPECT_FALSE(IsE164(bad)) << bad;
  }
}

TEST(E164Test, NormalizeDropsSpacesAndDashes) {
  EXPECT_THAT(NormalizeE164("  +44 20-7946 0958\t"), Optional(std::string("+442079460958")));
  EXPECT_THAT(NormalizeE164("+1-202-555-0143"), Optional(std::string("+12025550143")));
  EXPECT_THAT(NormalizeE164(" "), Optional(std::string()));
  EXPECT_EQ(NormalizeE164("+44 (20) 7946 0958"), std::nullopt);
  EXPECT_EQ(NormalizeE164("020 7946 0958"), std::nullopt);
  EXPECT_EQ(NormalizeE164("+44.20.7946.0958"), std::nullopt);
  EXPECT_EQ(NormalizeE164("+44 20 7946 0958 ext 12"), std::nullopt);
}

TEST(CountryCallingCodeTest, ReadsOneTwoOrThreeDigits) {
  EXPECT_THAT(CountryCallingCode("+12025550143"), Optional(1));   // United States
  EXPECT_THAT(CountryCallingCode("+18765550143"), Optional(1));   // Jamaica: NANP too
  EXPECT_THAT(CountryCallingCode("+74951234567"), Optional(7));   // Russia
  EXPECT_THAT(CountryCallingCode("+77011234567"), Optional(7));   // Kazakhstan
  EXPECT_THAT(CountryCallingCode("+31612345678"), Optional(31));  // Netherlands
  EXPECT_THAT(CountryCallingCode("+442079460958"), Optional(44));
  EXPECT_THAT(CountryCallingCode("+2348031234567"), Optional(234));  // Nigeria, not 23
  EXPECT_THAT(CountryCallingCode("+35312345678"), Optional(353));    // Ireland, not 35
  EXPECT_THAT(CountryCallingCode("+38344123456"), Optional(383));    // Kosovo
  EXPECT_THAT(CountryCallingCode("+420601123456"), Optional(420));   // Czechia, not 42
  EXPECT_THAT(CountryCallingCode("+5999123456"), Optional(599));
  EXPECT_THAT(CountryCallingCode("+85291234567"), Optional(852));    // Hong Kong
  EXPECT_THAT(CountryCallingCode("+88216123456"), Optional(882));    // international networks
  EXPECT_THAT(CountryCallingCode("+97150123456"), Optional(971));
  EXPECT_THAT(CountryCallingCode("+998901234567"), Optional(998));
}

TEST(CountryCallingCodeTest, SpareCodesAndNonNumbersHaveNone) {
  for (const char* spare : {"+2101234567", "+2591234567", "+2812345678", "+3841234567",
                            "+4221234567", "+6711234567", "+8351234567", "+8991234567",
                            "+9691234567", "+9991234567"}) {
    EXPECT_EQ(CountryCallingCode(spare), std::nullopt) << spare;
  }
  EXPECT_EQ(CountryCallingCode("31612345678"), std::nullopt);
  EXPECT_EQ(CountryCallingCode("+31 612345678"), std::nullopt);
  EXPECT_EQ(CountryCallingCode("+3161"), std::nullopt);
}

TEST(CountryCallingCodeTest, TheTableIsAPrefixCodeAndEveryCodeIsFound) {
  int codes = 0;
  for (int code = 1; code < 1000; ++code) {
    if (!IsCountryCallingCode(code)) continue;
    ++codes;
    // No code is the start of another: a number has at most one country code.
    for (int prefix = code / 10; prefix > 0; prefix /= 10) {
      EXPECT_FALSE(IsCountryCallingCode(prefix)) << prefix << " is a prefix of " << code;
    }
    // 11 digits in all, whatever the length of the code.
    const std::string number =
        absl::StrCat("+", code, std::string(10 - (code > 9) - (code > 99), '5'));
    EXPECT_THAT(CountryCallingCode(number), Optional(code)) << number;
  }
  // 2 one-digit, 44 two-digit and the three-digit codes in use.
  EXPECT_EQ(codes, 2 + 44 + 170);
  EXPECT_FALSE(IsCountryCallingCode(0));
  EXPECT_FALSE(IsCountryCallingCode(-31));
  EXPECT_FALSE(IsCountryCallingCode(1000));
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

TEST(SmsCountryAllowedTest, AnEmptyListAllowsAllAndAListOnlyItsCodes) {
  EXPECT_TRUE(SmsCountryAllowed({}, "+31612345678"));
  EXPECT_TRUE(SmsCountryAllowed({"31", "44"}, "+31612345678"));
  EXPECT_TRUE(SmsCountryAllowed({"1"}, "+14155550123"));
  EXPECT_FALSE(SmsCountryAllowed({"31"}, "+447700900123"));
  // "3" is not a prefix match for 31: whole codes only.
  EXPECT_FALSE(SmsCountryAllowed({"3"}, "+31612345678"));
  EXPECT_FALSE(SmsCountryAllowed({"31"}, "not-a-number"));
}

}  // namespace
}  // namespace tally
