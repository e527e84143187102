#include "services/passkey/webauthn/origin.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::webauthn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Normalized(absl::string_view origin) {
  absl::StatusOr<std::string> out = NormalizeOrigin(origin);
  return out.ok() ? *out : std::string(out.status().message());
}

TEST(NormalizeOriginTest, WritesOriginsAsBrowsersDo) {
  EXPECT_EQ(Normalized("https://example.com"), "https://example.com");
  EXPECT_EQ(Normalized("https://Example.COM/"), "https://example.com");
  EXPECT_EQ(Normalized("HTTPS://login.example.com"), "https://login.example.com");
  EXPECT_EQ(Normalized("https://example.com:443"), "https://example.com");
  EXPECT_EQ(Normalized("https://example.com:443/"), "https://example.com");
  EXPECT_EQ(Normalized("http://localhost:80"), "http://localhost");
  EXPECT_EQ(Normalized("http://LOCALHOST:8080/"), "http://localhost:8080");
  EXPECT_EQ(Normalized("https://example.com:8443"), "https://example.com:8443");
  EXPECT_EQ(Normalized("https://example.com:08443"), "https://example.com:8443");
  // The other scheme's default port is not a default here.
  EXPECT_EQ(Normalized("https://example.com:80"), "https://example.com:80");
  EXPECT_EQ(Normalized("http://example.com:443"), "http://example.com:443");
  EXPECT_EQ(Normalized("http://[::1]:8080"), "http://[::1]:8080");
  EXPECT_EQ(Normalized("https://[FE80::1]:443/"), "https://[fe80::1]");
  EXPECT_EQ(Normalized("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  // An Android app's origin: the key hash is case-sensitive base64url.
  EXPECT_EQ(Normalized("android:apk-key-hash:Xx-_09abcDEF"), "android:apk-key-hash:Xx-_09abcDEF");
}

TEST(NormalizeOriginTest, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"",
                          "example.com",
                          "//example.com",
                          "ftp://example.com",
                          "https://",
                          "https:///",
                          "https://example.com//",
                          "https://example.com/login",
                          "https://example.com/?q",
                          "https://example.com#top",
                          "https://user@example.com",
                          "https://user:pw@example.com",
                          "https://exa mple.com",
                          "https://bücher.example",
                          "https://example.com:",
                          "https://example.com:0",
                          "https://example.com:65536",
                          "https://example.com:44x",
                          "https://example.com:-1",
                          "https://.example.com",
                          "https://example..com",
                          "https://[::1",
                          "https://[zz::1]",
                          "https://[::1]x",
                          "android:apk-key-hash:",
                          "android:apk-key-hash:a+b=",
                          " https://example.com"}) {
    EXPECT_EQ(NormalizeOrigin(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad << " → " << Normalized(bad);
  }
  EXPECT_THAT(Normalized("https://example.com/login"),
              HasSubstr("\"https://example.com/login\" is not an origin: a path"));
  // One line, whatever the operator typed.
  EXPECT_THAT(Normalized("https://exa\nmple.com"), HasSubstr("exa\\nmple.com"));
}

TEST(NormalizeOriginsTest, NormalizesEveryOneAndDropsRepeats) {
  absl::StatusOr<std::vector<std::string>> out =
      NormalizeOrigins({"https://Example.com/", "https://example.com:443", "https://b.example"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, ElementsAre("https://example.com", "https://b.example"));
  EXPECT_FALSE(NormalizeOrigins({"https://a.example", "https://a.example/x"}).ok());
}

}  // namespace
}  // namespace tally::webauthn
