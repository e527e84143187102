#include "services/otp/destination.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tally::otp {
namespace {

bool IsLocalPartChar(char c) {
  // RFC 5322 atext plus the dot; quoted local parts are not accepted.
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+/=?^_`{|}~.-").find(c) != absl::string_view::npos;
}

bool IsValidDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() < 2) return false;
  for (absl::string_view label : labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  // A top-level domain is never all digits (that would be an IP address).
  for (char c : labels.back()) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

}  // namespace

absl::Status ValidateDestination(pb::Channel channel, absl::string_view destination) {
  switch (channel) {
    case pb::CHANNEL_SMS: {
      const bool ok = destination.size() >= 9 && destination.size() <= 16 &&
                      destination[0] == '+' && destination[1] != '0' &&
                      std::all_of(destination.begin() + 1, destination.end(), [](char c) {
                        return absl::ascii_isdigit(static_cast<unsigned char>(c));
                      });
      if (!ok) {
        return absl::InvalidArgumentError(
            "destination must be an E.164 phone number (+ and 8 to 15 digits) for CHANNEL_SMS");
      }
      return absl::OkStatus();
    }
    case pb::CHANNEL_EMAIL: {
      const size_t at = destination.rfind('@');
      bool ok = destination.size() <= kMaxEmailBytes && at != absl::string_view::npos && at > 0 &&
                at <= 64 && destination.find('@') == at;
      if (ok) {
        const absl::string_view local = destination.substr(0, at);
        ok = local.front() != '.' && local.back() != '.' &&
             local.find("..") == absl::string_view::npos &&
             std::all_of(local.begin(), local.end(), IsLocalPartChar) &&
             IsValidDomain(destination.substr(at + 1));
      }
      if (!ok) {
        return absl::InvalidArgumentError(
            "destination must be an e-mail address (local@domain) for CHANNEL_EMAIL");
      }
      return absl::OkStatus();
    }
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
