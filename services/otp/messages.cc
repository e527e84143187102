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

struct NoticeWords {
  const char* subject;
  const char* what;       // what happened, one sentence
  const char* not_you;    // what to do when it was not the user
};

NoticeWords Words(Language language, ::tally::otp::v1::NoticeKind kind) {
  namespace pb = ::tally::otp::v1;
  if (language == Language::kDutch) {
    switch (kind) {
      case pb::NOTICE_RECOVERY_CODE_USED:
        return {"Er is een herstelcode gebruikt",
                "Er is zojuist met een herstelcode ingelogd op je account.",
                "Was jij dit niet? Neem dan direct contact op met je beheerder."};
      case pb::NOTICE_DEVICE_REMEMBERED:
        return {"Er is een apparaat onthouden",
                "Er is zojuist een apparaat onthouden om in te loggen op je account.",
                "Was jij dit niet? Neem dan contact op met je beheerder."};
      default:
        return {"Je contactgegevens zijn gewijzigd",
                "Het telefoonnummer of e-mailadres van je account is gewijzigd; berichten gaan "
                "voortaan naar het nieuwe.",
                "Was jij dit niet? Neem dan direct contact op met je beheerder."};
    }
  }
  switch (kind) {
    case pb::NOTICE_RECOVERY_CODE_USED:
      return {"A recovery code was used",
              "A recovery code was just used to sign in to your account.",
              "If this was not you, contact your administrator now."};
    case pb::NOTICE_DEVICE_REMEMBERED:
      return {"A device was remembered",
              "A device was just remembered for signing in to your account.",
              "If this was not you, contact your administrator."};
    default:
      return {"Your contact details were changed",
              "The phone number or e-mail address of your account was changed; messages now go "
              "to the new one.",
              "If this was not you, contact your administrator now."};
  }
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

MessageText ComposeNotice(Language language, ::tally::otp::v1::Channel channel,
                          ::tally::otp::v1::NoticeKind kind) {
  const NoticeWords words = Words(language, kind);
  MessageText m;
  if (channel == ::tally::otp::v1::CHANNEL_EMAIL) {
    m.subject = words.subject;
    m.text = absl::StrCat(language == Language::kDutch ? "Hallo," : "Hello,", "\r\n\r\n",
                          words.what, "\r\n\r\n", words.not_you, "\r\n");
  } else {
    m.text = absl::StrCat(words.what, " ", words.not_you);
  }
  return m;
}

}  // namespace tally::otp
