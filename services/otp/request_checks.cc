#include "services/otp/request_checks.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "services/otp/client_address.h"
#include "services/otp/destination.h"

namespace tally::otp {
namespace {

absl::Status CheckId(absl::string_view id, absl::string_view name) {
  if (!IsValidId(std::string_view(id.data(), id.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be 1 to 128 characters of [A-Za-z0-9_-]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSendCodeRequest(const ::tally::otp::v1::SendCodeRequest& request) {
  if (absl::Status s = CheckId(request.directory_id(), "directory_id"); !s.ok()) return s;
  if (absl::Status s = ClientAddressKey(request.client_ip()).status(); !s.ok()) return s;
  if (request.no_recipient()) {
    if (!request.user_id().empty() || !request.destination().empty()) {
      return absl::InvalidArgumentError(
          "a send with no_recipient takes no user_id and no destination");
    }
    if (request.no_recipient_key().empty() ||
        request.no_recipient_key().size() > kMaxNoRecipientKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("no_recipient_key must be 1 to ", kMaxNoRecipientKeyBytes, " bytes"));
    }
    return ValidateChannel(request.channel());
  }
  if (!request.no_recipient_key().empty()) {
    return absl::InvalidArgumentError("no_recipient_key is only for sends with no_recipient");
  }
  if (absl::Status s = CheckId(request.user_id(), "user_id"); !s.ok()) return s;
  return ValidateDestination(request.channel(), request.destination());
}

absl::Status CheckSendNoticeRequest(const ::tally::otp::v1::SendNoticeRequest& request) {
  if (absl::Status s = CheckId(request.directory_id(), "directory_id"); !s.ok()) return s;
  if (request.kind() == ::tally::otp::v1::NOTICE_KIND_UNSPECIFIED ||
      !::tally::otp::v1::NoticeKind_IsValid(request.kind())) {
    return absl::InvalidArgumentError(
        "kind must be NOTICE_CONTACT_CHANGED, NOTICE_RECOVERY_CODE_USED or "
        "NOTICE_DEVICE_REMEMBERED");
  }
  return ValidateDestination(request.channel(), request.destination());
}

absl::Status CheckVerifyCodeRequest(const ::tally::otp::v1::VerifyCodeRequest& request) {
  if (absl::Status s = CheckId(request.directory_id(), "directory_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(request.challenge_id(), "challenge_id"); !s.ok()) return s;
  const std::string& code = request.code();
  if (code.empty() || code.size() > kMaxCodeLength ||
      !std::all_of(code.begin(), code.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("code must be 1 to 16 digits");
  }
  return absl::OkStatus();
}

}  // namespace tally::otp
