#include "services/credential/user_fields.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::credential {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::StatusCode Code(const absl::Status& s) { return s.code(); }

TEST(UsernameTest, KeepsTheTypedFormAndFoldsAsciiCase) {
  absl::StatusOr<Username> name = CheckUsername("  Alice.Smith\t");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->display, "Alice.Smith");
  EXPECT_EQ(name->key, "alice.smith");
  EXPECT_EQ(CheckUsername("ALICE.SMITH")->key, name->key);
  // Non-ASCII letters are kept byte for byte (no ICU): "Émile" and "émile" differ.
  EXPECT_EQ(CheckUsername("\xC3\x89mile")->key, "\xC3\x89mile");
  EXPECT_NE(CheckUsername("\xC3\x89mile")->key, CheckUsername("\xC3\xA9mile")->key);
  EXPECT_EQ(UsernameKey("MiXeD-42"), "mixed-42");
}

TEST(UsernameTest, RefusesEmptyOversizedNonUtf8AndControlCharacters) {
  EXPECT_EQ(CheckUsername("").status().message(), "username is required");
  EXPECT_EQ(CheckUsername("   ").status().message(), "username is required");
  EXPECT_TRUE(CheckUsername(std::string(kMaxUsernameBytes, 'a')).ok());
  EXPECT_THAT(CheckUsername(std::string(kMaxUsernameBytes + 1, 'a')).status().message(),
              HasSubstr("at most 128 bytes"));
  EXPECT_THAT(CheckUsername("bad\xFF").status().message(), HasSubstr("UTF-8"));
  EXPECT_THAT(CheckUsername("over\xC0\xAFlong").status().message(), HasSubstr("UTF-8"));
  EXPECT_THAT(CheckUsername("tab\tinside").status().message(), HasSubstr("control"));
  EXPECT_THAT(CheckUsername(std::string("nul\0x", 5)).status().message(), HasSubstr("control"));
  EXPECT_EQ(Code(CheckUsername("a\xC2\x85" "b").status()), absl::StatusCode::kInvalidArgument);
}

TEST(EmailTest, LowerCasesTheDomainOnly) {
  EXPECT_EQ(*NormalizeEmail(" Jan.Jansen@Example.COM "), "Jan.Jansen@example.com");
  EXPECT_EQ(*NormalizeEmail("a+tag@mail.xn--p1ai"), "a+tag@mail.xn--p1ai");
  EXPECT_EQ(*NormalizeEmail("o'brien@sub-domain.example.org"), "o'brien@sub-domain.example.org");
  EXPECT_EQ(*NormalizeEmail(""), "");
  EXPECT_EQ(*NormalizeEmail("   "), "");
}

TEST(EmailTest, RefusesMalformedAddresses) {
  for (const char* bad :
       {"plainaddress", "@example.com", "user@", "user@@example.com", "a@b@example.com",
        "user@localhost", "user@example", "user@-example.com", "user@example-.com",
        "user@exa_mple.com", "user@example..com", "user@.example.com", "user@example.com.",
        "user@1.2.3.4", "user@[1.2.3.4]", ".user@example.com", "user.@example.com",
        "us..er@example.com", "us er@example.com", "\"quoted\"@example.com", "a,b@example.com",
        "a\\b@example.com", "user@ex ample.com", "user@exämple.com"}) {
    absl::StatusOr<std::string> email = NormalizeEmail(bad);
    EXPECT_EQ(email.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!email.ok()) {
      EXPECT_THAT(email.status().message(), HasSubstr("email is not a valid address")) << bad;
    }
  }
  EXPECT_FALSE(NormalizeEmail(std::string(65, 'a') + "@example.com").ok());
  EXPECT_TRUE(NormalizeEmail(std::string(64, 'a') + "@example.com").ok());
  EXPECT_FALSE(NormalizeEmail("a@" + std::string(64, 'b') + ".com").ok());
  EXPECT_FALSE(NormalizeEmail("a@" + std::string(240, 'b') + ".com").ok());
  EXPECT_FALSE(NormalizeEmail("line\nbreak@example.com").ok());
  EXPECT_FALSE(NormalizeEmail("bad\xFF@example.com").ok());
  // Valid UTF-8, but no code could be delivered there (the OTP service sends ASCII addresses).
  EXPECT_THAT(NormalizeEmail("\xC3\xBC" "ser@example.de").status().message(),
              HasSubstr("must be ASCII"));
}

TEST(PhoneNumberTest, NormalisesSpacesAndDashesToE164) {
  EXPECT_EQ(*NormalizePhoneNumber("+31 6-1234 5678"), "+31612345678");
  EXPECT_EQ(*NormalizePhoneNumber(" +1-202-555-0143 "), "+12025550143");
  EXPECT_EQ(*NormalizePhoneNumber("+12345678"), "+12345678");             // 8 digits
  EXPECT_EQ(*NormalizePhoneNumber("+123456789012345"), "+123456789012345");  // 15 digits
  EXPECT_EQ(*NormalizePhoneNumber(""), "");
}

TEST(PhoneNumberTest, RefusesAnythingElse) {
  for (const char* bad : {"0612345678", "31612345678", "+", "+1234567", "+1234567890123456",
                          "+0612345678", "+31 (6) 12345678", "+31.6.12345678", "+3161234567a",
                          "++31612345678", "+31612345678x12", "+31６12345678"}) {
    absl::StatusOr<std::string> phone = NormalizePhoneNumber(bad);
    EXPECT_EQ(phone.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!phone.ok()) {
      EXPECT_THAT(phone.status().message(), HasSubstr("E.164")) << bad;
    }
  }
}

TEST(RolesTest, KnownRolesOnceInCanonicalOrder) {
  google::protobuf::RepeatedPtrField<std::string> roles;
  EXPECT_THAT(*CheckRoles(roles), IsEmpty());
  *roles.Add() = "user";
  *roles.Add() = "admin";
  *roles.Add() = "user";
  EXPECT_THAT(*CheckRoles(roles), ElementsAre("admin", "user"));
  *roles.Add() = "Admin";
  EXPECT_EQ(CheckRoles(roles).status().message(),
            "unknown role \"Admin\"; roles are \"admin\" and \"user\"");
  roles.Clear();
  *roles.Add() = std::string(100, 'x');
  EXPECT_EQ(CheckRoles(roles).status().message(),
            "unknown role; roles are \"admin\" and \"user\"");
}

}  // namespace
}  // namespace tally::credential
