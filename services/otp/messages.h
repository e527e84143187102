#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

enum class Language { kEnglish, kDutch };

// "en" / "nl"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Language> ParseLanguage(absl::string_view text);

// What the user receives: the code and how long it stays valid, in `language`.
struct MessageText {
  std::string subject;  // e-mail only
  std::string text;
};
MessageText ComposeMessage(Language language, ::tally::otp::v1::Channel channel,
                           absl::string_view code, absl::Duration lifetime);

// A notice (SendNotice): what happened to the account, in `language`, and what to do if it was
// not the user. No code, no link: a message anyone can forge must not ask for anything.
MessageText ComposeNotice(Language language, ::tally::otp::v1::Channel channel,
                          ::tally::otp::v1::NoticeKind kind);

}  // namespace tally::otp
