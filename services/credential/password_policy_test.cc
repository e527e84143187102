#include "services/credential/password_policy.h"

#include <fstream>

#include "common/util/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

PasswordPolicy Policy(std::string_view blocklist = "") {
  return PasswordPolicy(PasswordRules{}, PasswordBlocklist::FromLines(blocklist));
}

TEST(PasswordPolicyTest, LengthCountsCharactersNotBytes) {
  const PasswordPolicy policy = Policy();
  EXPECT_THAT(policy.Check("short12", "alice").message(), HasSubstr("at least 8 characters"));
  EXPECT_TRUE(policy.Check("eight888", "alice").ok());
  // Seven characters of two bytes each are still seven characters.
  EXPECT_FALSE(policy.Check("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", "a").ok());
  EXPECT_TRUE(policy.Check("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", "a")
                  .ok());
  // No composition rules: lower-case letters only, or spaces, are fine.
  EXPECT_TRUE(policy.Check("correct horse battery staple", "alice").ok());
  EXPECT_TRUE(
      PasswordPolicy(PasswordRules{.min_length = 12}, {}).Check("elevenchars", "x").code() ==
      absl::StatusCode::kInvalidArgument);
}

TEST(PasswordPolicyTest, RefusesTheUsernameInAnyAsciiCase) {
  const PasswordPolicy policy = Policy();
  EXPECT_EQ(policy.Check("Alice.Smith", "alice.smith").message(),
            "password must not be the username");
  EXPECT_FALSE(policy.Check("ALICE.SMITH", "Alice.Smith").ok());
  EXPECT_TRUE(policy.Check("alice.smith!", "alice.smith").ok());
}

TEST(PasswordPolicyTest, RefusesBlocklistedPasswordsCaseInsensitively) {
  const PasswordPolicy policy = Policy("# comment\n\n  Password1  \nqwertyuiop\n");
  EXPECT_THAT(policy.Check("password1", "alice").message(), HasSubstr("too common"));
  EXPECT_FALSE(policy.Check("PASSWORD1", "alice").ok());
  EXPECT_FALSE(policy.Check("QwertyUIOP", "alice").ok());
  EXPECT_TRUE(policy.Check("password12", "alice").ok());
  EXPECT_TRUE(policy.Check("# comment", "alice").ok());
  // Errors never quote the password.
  EXPECT_THAT(policy.Check("qwertyuiop", "alice").message(), Not(HasSubstr("qwertyuiop")));
}

TEST(PasswordShapeTest, RequiredBoundedUtf8) {
  EXPECT_EQ(CheckPasswordShape("", "new_password").message(), "new_password is required");
  EXPECT_TRUE(CheckPasswordShape(std::string(kMaxPasswordBytes, 'x'), "password").ok());
  EXPECT_EQ(CheckPasswordShape(std::string(kMaxPasswordBytes + 1, 'x'), "password").message(),
            "password must be at most 1024 bytes");
  EXPECT_EQ(CheckPasswordShape("not\xFFutf8", "password").message(),
            "password must be valid UTF-8");
}

TEST(PasswordBlocklistTest, LoadsAFileAndReportsAMissingOne) {
  EXPECT_EQ(PasswordBlocklist::LoadFile("/nonexistent/list.txt").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(PasswordBlocklist().size(), 0u);
  EXPECT_FALSE(PasswordBlocklist().Contains("password"));
}

// The list the repository ships (services/credential/data/common_passwords.txt).
TEST(PasswordBlocklistTest, TheShippedListIsLargeAndOnlyHoldsPasswordsLongEnoughToMatter) {
  absl::StatusOr<PasswordBlocklist> list = PasswordBlocklist::LoadFile(TALLY_COMMON_PASSWORDS_FILE);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_GE(list->size(), 1000u);
  for (const char* common : {"password", "Password1", "12345678", "qwertyuiop", "iloveyou",
                             "baseball", "football", "sunshine", "trustno1"}) {
    EXPECT_TRUE(list->Contains(common)) << common;
  }
  std::ifstream in(TALLY_COMMON_PASSWORDS_FILE);
  std::string line;
  int entries = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++entries;
    // Shorter ones are refused by the length rule anyway; every entry is text we can compare.
    EXPECT_GE(line.size(), 8u) << line;
    EXPECT_TRUE(IsValidUtf8(line) && !HasControlCharacters(line)) << line;
  }
  EXPECT_EQ(static_cast<size_t>(entries), list->size()) << "duplicate entries";
}

}  // namespace
}  // namespace tally::credential
