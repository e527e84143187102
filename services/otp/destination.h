#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

// OK when `destination` fits `channel` by the contact rules (common/util/contact.h) in the
// form the credential service stores: SMS an E.164 number (IsE164), e-mail a plain address
// (CheckEmailAddress). INVALID_ARGUMENT otherwise (never echoing the destination).
absl::Status ValidateDestination(pb::Channel channel, absl::string_view destination);

// OK for CHANNEL_SMS and CHANNEL_EMAIL; INVALID_ARGUMENT otherwise.
absl::Status ValidateChannel(pb::Channel channel);

// Enough of a destination to recognise it, safe to show: "+31******78", "a***@example.org".
std::string MaskDestination(pb::Channel channel, absl::string_view destination);

// "sms" / "email" (metrics labels, the outbox's channel field); "unknown" otherwise.
const char* ChannelName(pb::Channel channel);

}  // namespace tally::otp
