#include "services/otp/otp_crypto.h"

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/otp/curl_providers.h"
#include "services/otp/delivery_job.h"
#include "services/otp/destination.h"
#include "services/otp/messages.h"
#include "services/otp/test_fakes.h"

namespace tally::otp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tally::testing::FakeClock;
using testing::FakeRandom;

const std::string kJobKey(32, 'k');

TEST(GenerateCodeTest, RejectsDrawsThatWouldBiasTheModulo) {
  FakeRandom random;
  // 0xFFFFFFFF and 4294000000 (0xFFF13D80) are rejected; 4293999999 maps to 999999.
  random.Queue({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF1, 0x3D, 0x80, 0xFF, 0xF1, 0x3D, 0x7F});
  EXPECT_EQ(GenerateCode(random), "999999");
  random.Queue({0x00, 0x00, 0x00, 0x7B});
  EXPECT_EQ(GenerateCode(random), "000123");
}

TEST(GenerateCodeTest, SixDigitsFromTheCsprng) {
  for (int i = 0; i < 200; ++i) {
    const std::string code = GenerateCode(CsprngRandom::Get());
    ASSERT_EQ(code.size(), 6u);
    ASSERT_TRUE(std::all_of(code.begin(), code.end(), ::isdigit)) << code;
  }
}

TEST(HmacTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(AesGcmTest, RoundTripsAndRejectsTamperingWrongKeyOrAad) {
  FakeRandom random;
  const std::string sealed = SealAesGcm(kJobKey, "secret text 123456", "aad-1", random);
  EXPECT_EQ(sealed.size(), 12u + 18u + 16u);
  EXPECT_THAT(sealed, Not(HasSubstr("123456")));
  auto opened = OpenAesGcm(kJobKey, sealed, "aad-1");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret text 123456");
  EXPECT_FALSE(OpenAesGcm(kJobKey, sealed, "aad-2").ok());
  EXPECT_FALSE(OpenAesGcm(std::string(32, 'x'), sealed, "aad-1").ok());
  std::string tampered = sealed;
  tampered[14] ^= 1;
  EXPECT_FALSE(OpenAesGcm(kJobKey, tampered, "aad-1").ok());
  EXPECT_FALSE(OpenAesGcm(kJobKey, sealed.substr(0, 20), "aad-1").ok());
  // A fresh nonce per message.
  EXPECT_NE(SealAesGcm(kJobKey, "same", "a", random), SealAesGcm(kJobKey, "same", "a", random));
}

TEST(DecodeSecretTest, HexOrBase64WithLengthChecks) {
  const std::string hex(64, 'a');
  auto from_hex = DecodeSecret(hex, 32, true, "--k");
  ASSERT_TRUE(from_hex.ok());
  EXPECT_EQ(*from_hex, std::string(32, '\xaa'));
  auto from_b64 = DecodeSecret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 32, true, "--k");
  ASSERT_TRUE(from_b64.ok()) << from_b64.status();
  EXPECT_EQ((*from_b64)[31], '\x1f');
  EXPECT_TRUE(DecodeSecret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-_w", 32, false, "--k").ok());
  auto too_short = DecodeSecret("c2hvcnQ=", 32, false, "--k");
  EXPECT_EQ(too_short.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_short.status().message(), Not(HasSubstr("c2hvcnQ")));
  EXPECT_FALSE(DecodeSecret(std::string(66, 'a'), 32, true, "--k").ok());  // 33 bytes
  EXPECT_FALSE(DecodeSecret("not base64 !!", 32, false, "--k").ok());
  EXPECT_FALSE(DecodeSecret("", 32, false, "--k").ok());
}

TEST(DestinationTest, ValidatesE164AndAddresses) {
  using pb::CHANNEL_EMAIL;
  using pb::CHANNEL_SMS;
  EXPECT_TRUE(ValidateDestination(CHANNEL_SMS, "+31612345678").ok());
  EXPECT_TRUE(ValidateDestination(CHANNEL_SMS, "+12345678").ok());
  EXPECT_TRUE(ValidateDestination(CHANNEL_SMS, "+123456789012345").ok());
  for (const char* bad : {"31612345678", "+3161234567890123", "+1234567", "+31 612345678",
                          "+0612345678", "", "+", "+31612345678\n", "+3161234567a"}) {
    EXPECT_EQ(ValidateDestination(CHANNEL_SMS, bad).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(ValidateDestination(CHANNEL_EMAIL, "alice@example.org").ok());
  EXPECT_TRUE(ValidateDestination(CHANNEL_EMAIL, "a.b+tag@mail.example-1.nl").ok());
  for (const char* bad : {"alice", "@example.org", "alice@", "alice@example", "a@@example.org",
                          "a b@example.org", "alice@exa mple.org", "alice@example.org\r\nBcc: x",
                          ".a@example.org", "a..b@example.org", "a@-example.org", "a@1.2.3.4",
                          "<a@example.org>"}) {
    EXPECT_EQ(ValidateDestination(CHANNEL_EMAIL, bad).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(ValidateDestination(CHANNEL_EMAIL, std::string(250, 'a') + "@example.org").ok());
  EXPECT_FALSE(ValidateDestination(pb::CHANNEL_UNSPECIFIED, "+31612345678").ok());
}

TEST(DestinationTest, MasksToWhatIsEnoughToRecogniseIt) {
  EXPECT_EQ(MaskDestination(pb::CHANNEL_SMS, "+31612345678"), "+31*******78");
  EXPECT_EQ(MaskDestination(pb::CHANNEL_SMS, "+3161234578"), "+31******78");
  EXPECT_EQ(MaskDestination(pb::CHANNEL_EMAIL, "alice@example.org"), "a***@example.org");
}

TEST(MessagesTest, CarryTheCodeAndLifetimeInEnglishAndDutch) {
  auto en = ComposeMessage(Language::kEnglish, pb::CHANNEL_SMS, "123456", absl::Minutes(5));
  EXPECT_THAT(en.text, HasSubstr("123456"));
  EXPECT_THAT(en.text, HasSubstr("5 minutes"));
  EXPECT_TRUE(en.subject.empty());
  auto nl = ComposeMessage(Language::kDutch, pb::CHANNEL_EMAIL, "654321", absl::Minutes(10));
  EXPECT_THAT(nl.text, HasSubstr("654321"));
  EXPECT_THAT(nl.text, HasSubstr("10 minuten"));
  EXPECT_EQ(nl.subject, "Je verificatiecode");
  EXPECT_EQ(ParseLanguage("nl").value(), Language::kDutch);
  EXPECT_FALSE(ParseLanguage("de").ok());
}

TEST(DeliveryJobTest, FieldsRoundTripAndTheSealIsBoundToTheChallenge) {
  FakeRandom random;
  DeliveryJob job;
  job.directory_id = "dir_a";
  job.challenge_id = "otp_1";
  job.channel = pb::CHANNEL_SMS;
  job.expire_time = absl::FromUnixMillis(1798000300000);
  job.enqueue_time = absl::FromUnixMillis(1798000000000);
  job.masked_destination = "+31*******78";
  OutgoingMessage m{pb::CHANNEL_SMS, "+31612345678", "", "code 123456", "otp_1"};
  job.sealed = SealMessage(kJobKey, job, m, random);
  auto fields = JobToFields(job);
  for (const auto& [f, v] : fields) {
    EXPECT_THAT(v, Not(HasSubstr("123456"))) << f;
    EXPECT_THAT(v, Not(HasSubstr("+31612345678"))) << f;
  }
  auto back = JobFromFields(fields);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->challenge_id, "otp_1");
  EXPECT_EQ(back->expire_time, job.expire_time);
  auto opened = OpenMessage(kJobKey, *back);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->text, "code 123456");
  EXPECT_EQ(opened->destination, "+31612345678");
  // Moved to another challenge or given a later expiry: no longer opens.
  DeliveryJob moved = *back;
  moved.challenge_id = "otp_2";
  EXPECT_FALSE(OpenMessage(kJobKey, moved).ok());
  moved = *back;
  moved.expire_time += absl::Hours(1);
  EXPECT_FALSE(OpenMessage(kJobKey, moved).ok());
  fields.pop_back();
  EXPECT_FALSE(JobFromFields(fields).ok());
}

TEST(SmtpComposeTest, WritesAnRfc5322Message) {
  FakeClock clock(absl::FromUnixSeconds(1798000000));
  FakeRandom random;
  SmtpOptions options;
  options.host = "smtp.example.org";
  options.from = "no-reply@example.org";
  options.from_name = "Tally";
  SmtpProvider provider(options, clock, random);
  const std::string mail = provider.Compose(
      {pb::CHANNEL_EMAIL, "alice@example.org", "Your verification code", "Code 123456", "otp_x"});
  EXPECT_THAT(mail, HasSubstr("Date: Wed, 23 Dec 2026 04:26:40 +0000\r\n"));
  EXPECT_THAT(mail, HasSubstr("From: \"Tally\" <no-reply@example.org>\r\n"));
  EXPECT_THAT(mail, HasSubstr("To: <alice@example.org>\r\n"));
  EXPECT_THAT(mail, HasSubstr("Subject: Your verification code\r\n"));
  EXPECT_THAT(mail, ::testing::ContainsRegex("Message-ID: <otp_x\\.[0-9a-f]{24}@example\\.org>"));
  EXPECT_THAT(mail, HasSubstr("\r\n\r\nCode 123456\r\n"));
  EXPECT_TRUE(ValidateSmtpOptions(options).ok());
  options.from = "not an address";
  EXPECT_FALSE(ValidateSmtpOptions(options).ok());
}

}  // namespace
}  // namespace tally::otp
