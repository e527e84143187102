#include "services/otp/messages.h"

#include "absl/strings/str_cat.h"

namespace tally::otp {
namespace {

// "5 minutes" / "5 minuten"; lifetimes below a minute in seconds.
std::string Lifetime(Language language, absl::Duration lifetime) {
  const int64_t minutes = absl::ToInt64Minutes(lifetime);
  if (minutes >= 1) {
    if (language == Language::kDutch) return absl::StrCat(minutes, minutes == 1 ? " minuut" : " minuten");
    return absl::StrCat(minutes, minutes == 1 ? " minute" : " minutes");
  }
  const int64_t seconds = absl::ToInt64Seconds(lifetime);
  if (language == Language::kDutch) return absl::StrCat(seconds, " seconden");
  return absl::StrCat(seconds, " seconds");
}

}  // namespace

absl::StatusOr<Language> ParseLanguage(absl::string_view text) {
  if (text == "en") return Language::kEnglish;
  if (text == "nl") return Language::kDutch;
  return absl::InvalidArgumentError("--otp_language must be en or nl");
}

MessageText ComposeMessage(Language language, ::tally::otp::v1::Channel channel,
                           absl::string_view code, absl::Duration lifetime) {
  const std::string valid = Lifetime(language, lifetime);
  MessageText m;
  if (language == Language::kDutch) {
    if (channel == ::tally::otp::v1::CHANNEL_EMAIL) {
      m.subject = "Je verificatiecode";
      m.text = absl::StrCat("Hallo,\r\n\r\nJe verificatiecode is: ", code, "\r\n\r\nDe code is ",
                            valid,
                            " geldig. Deel hem met niemand. Heb je niet geprobeerd in te loggen? "
                            "Negeer dan dit bericht.\r\n");
    } else {
      m.text = absl::StrCat("Je verificatiecode is ", code, ". Geldig: ", valid,
                            ". Deel hem met niemand.");
    }
  } else {
    if (channel == ::tally::otp::v1::CHANNEL_EMAIL) {
      m.subject = "Your verification code";
      m.text = absl::StrCat("Hello,\r\n\r\nYour verification code is: ", code,
                            "\r\n\r\nIt expires in ", valid,
                            ". Do not share it with anyone. If you did not try to sign in, you "
                            "can ignore this message.\r\n");
    } else {
      m.text = absl::StrCat("Your verification code is ", code, ". It expires in ", valid,
                            ". Do not share it.");
    }
  }
  return m;
}

}  // namespace tally::otp
