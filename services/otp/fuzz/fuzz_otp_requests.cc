// libFuzzer: the request checks of SendCode, VerifyCode and SendNotice
// (services/otp/request_checks.h). The first byte picks the request the rest is parsed as, as
// protobuf takes it off the wire.
//
// Invariants: SendCode is accepted exactly when the client_ip is empty or an address
// (ClientAddressKey) and both ids are ids (1..128 of [A-Za-z0-9_-]), no no_recipient_key is
// given and ValidateDestination accepts the destination, or, for a send to nobody, when the
// directory id is an id, user and destination are empty, the key is 1..512 bytes and the
// channel is SMS or e-mail; VerifyCode exactly when both ids are ids and the code is
// 1..kMaxCodeLength ASCII digits; SendNotice exactly when the directory id is an id, the kind
// is a NoticeKind other than unspecified and ValidateDestination accepts the destination;
// refusals are INVALID_ARGUMENT and never quote the destination, the client address or the code.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/text.h"
#include "services/otp/client_address.h"
#include "services/otp/destination.h"
#include "services/otp/request_checks.h"
#include "tally/otp/v1/otp.pb.h"

namespace {

using ::tally::fuzz::Check;
using ::tally::fuzz::Distinctive;

namespace otp = ::tally::otp;

bool IsCode(const std::string& code) {
  if (code.empty() || code.size() > otp::kMaxCodeLength) return false;
  for (char c : code) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 3 == 0) {
    otp::v1::SendCodeRequest request;
    if (!request.ParseFromString(rest)) return 0;
    const absl::Status status = otp::CheckSendCodeRequest(request);
    const bool accepted =
        otp::ClientAddressKey(request.client_ip()).ok() &&
        (request.no_recipient()
            ? tally::IsValidId(request.directory_id()) && request.user_id().empty() &&
                  request.destination().empty() && !request.no_recipient_key().empty() &&
                  request.no_recipient_key().size() <= otp::kMaxNoRecipientKeyBytes &&
                  otp::ValidateChannel(request.channel()).ok()
            : tally::IsValidId(request.directory_id()) && tally::IsValidId(request.user_id()) &&
                  request.no_recipient_key().empty() &&
                  otp::ValidateDestination(request.channel(), request.destination()).ok());
    Check(status.ok() == accepted);
    if (!status.ok()) {
      Check(status.code() == absl::StatusCode::kInvalidArgument);
      if (Distinctive(request.destination())) {
        Check(!absl::StrContains(status.message(), request.destination()));
      }
      if (Distinctive(request.client_ip())) {
        Check(!absl::StrContains(status.message(), request.client_ip()));
      }
    }
  } else if (data[0] % 3 == 2) {
    otp::v1::SendNoticeRequest request;
    if (!request.ParseFromString(rest)) return 0;
    const absl::Status status = otp::CheckSendNoticeRequest(request);
    Check(status.ok() ==
          (tally::IsValidId(request.directory_id()) &&
           request.kind() != otp::v1::NOTICE_KIND_UNSPECIFIED &&
           otp::v1::NoticeKind_IsValid(request.kind()) &&
           otp::ValidateDestination(request.channel(), request.destination()).ok()));
    if (!status.ok()) {
      Check(status.code() == absl::StatusCode::kInvalidArgument);
      if (Distinctive(request.destination())) {
        Check(!absl::StrContains(status.message(), request.destination()));
      }
    }
  } else {
    otp::v1::VerifyCodeRequest request;
    if (!request.ParseFromString(rest)) return 0;
    const absl::Status status = otp::CheckVerifyCodeRequest(request);
    Check(status.ok() == (tally::IsValidId(request.directory_id()) &&
                          tally::IsValidId(request.challenge_id()) && IsCode(request.code())));
    if (!status.ok()) {
      Check(status.code() == absl::StatusCode::kInvalidArgument);
      if (Distinctive(request.code())) Check(!absl::StrContains(status.message(), request.code()));
    }
  }
  return 0;
}
