#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

// Longest e-mail address accepted (RFC 5321: 254 in practice).
inline constexpr size_t kMaxEmailBytes = 254;

// OK when `destination` fits `channel`: SMS an E.164 number ("+" and 8 to 15 digits, no leading
// zero), e-mail a single plain address (local@domain, printable ASCII, a dotted domain of
// letters, digits and hyphens). INVALID_ARGUMENT otherwise (never echoing the destination).
absl::Status ValidateDestination(pb::Channel channel, absl::string_view destination);

// OK for CHANNEL_SMS and CHANNEL_EMAIL; INVALID_ARGUMENT otherwise.
absl::Status ValidateChannel(pb::Channel channel);

// Enough of a destination to recognise it, safe to show: "+31******78", "a***@example.org".
std::string MaskDestination(pb::Channel channel, absl::string_view destination);

// "sms" / "email" (metrics labels, the outbox's channel field); "unknown" otherwise.
const char* ChannelName(pb::Channel channel);

}  // namespace tally::otp
