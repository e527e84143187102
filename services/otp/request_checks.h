#pragma once

// The request-shape checks of SendCode, VerifyCode and SendNotice: pure functions, so they are
// unit-tested through OtpManager and fuzzed directly (services/otp/fuzz).

#include <cstddef>

#include "absl/status/status.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

// Longest code accepted by VerifyCode before it is called malformed.
inline constexpr size_t kMaxCodeLength = 16;

// Longest SendCodeRequest.no_recipient_key.
inline constexpr size_t kMaxNoRecipientKeyBytes = 512;

// directory_id and user_id are ids (1..128 of [A-Za-z0-9_-]) and the destination fits the
// channel (ValidateDestination); with no_recipient, no user_id or destination but a key of 1 to
// kMaxNoRecipientKeyBytes and an SMS or e-mail channel; client_ip empty or an IP address
// (ClientAddressKey). INVALID_ARGUMENT otherwise, never quoting the input.
absl::Status CheckSendCodeRequest(const ::tally::otp::v1::SendCodeRequest& request);

// directory_id is an id, the destination fits the channel and the kind is one of NoticeKind's
// (not NOTICE_KIND_UNSPECIFIED). INVALID_ARGUMENT otherwise, never quoting the input.
absl::Status CheckSendNoticeRequest(const ::tally::otp::v1::SendNoticeRequest& request);

// directory_id and challenge_id are ids and the code is 1..kMaxCodeLength ASCII digits.
// INVALID_ARGUMENT otherwise, never quoting the input.
absl::Status CheckVerifyCodeRequest(const ::tally::otp::v1::VerifyCodeRequest& request);

}  // namespace tally::otp
