#include "services/otp/destination.h"

#include "absl/strings/str_cat.h"
#include "common/util/contact.h"

namespace tally::otp {

absl::Status ValidateDestination(pb::Channel channel, absl::string_view destination) {
  switch (channel) {
    case pb::CHANNEL_SMS:
      if (!IsE164(destination)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "destination must be an E.164 phone number (+ and ", kMinE164Digits, " to ",
            kMaxE164Digits, " digits) for CHANNEL_SMS"));
      }
      return absl::OkStatus();
    case pb::CHANNEL_EMAIL:
      // One fixed message for SendCode's callers, whatever is wrong with the address.
      if (!CheckEmailAddress(destination).ok()) {
        return absl::InvalidArgumentError(
            "destination must be an e-mail address (local@domain) for CHANNEL_EMAIL");
      }
      return absl::OkStatus();
    default:
      return ValidateChannel(channel);
  }
}

absl::Status ValidateChannel(pb::Channel channel) {
  if (channel == pb::CHANNEL_SMS || channel == pb::CHANNEL_EMAIL) return absl::OkStatus();
  return absl::InvalidArgumentError("channel must be CHANNEL_SMS or CHANNEL_EMAIL");
}

std::string MaskDestination(pb::Channel channel, absl::string_view destination) {
  if (channel == pb::CHANNEL_SMS) {
    // "+31" and the last two digits stay: the country and enough to recognise one's own number.
    if (destination.size() < 6) return std::string(destination.size(), '*');
    return absl::StrCat(destination.substr(0, 3), std::string(destination.size() - 5, '*'),
                        destination.substr(destination.size() - 2));
  }
  const size_t at = destination.rfind('@');
  if (at == absl::string_view::npos || at == 0) return "***";
  return absl::StrCat(destination.substr(0, 1), "***", destination.substr(at));
}

const char* ChannelName(pb::Channel channel) {
  switch (channel) {
    case pb::CHANNEL_SMS: return "sms";
    case pb::CHANNEL_EMAIL: return "email";
    default: return "unknown";
  }
}

}  // namespace tally::otp
