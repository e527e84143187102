#include "services/passkey/webauthn/reasons.h"

#include <string_view>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally::webauthn {
namespace {

constexpr char kReasonPayload[] = "type.tally.dev/webauthn.reason";

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

}  // namespace

std::string ReasonOf(const absl::Status& status) {
  if (auto r = status.GetPayload(kReasonPayload); r.has_value()) return std::string(*r);
  if (status.code() == absl::StatusCode::kInvalidArgument) return reason::kMalformed;
  return "other";
}

absl::Status Malformed(absl::string_view message) {
  return WithReason(absl::InvalidArgumentError(message), reason::kMalformed);
}

absl::Status Refused(absl::string_view reason, absl::string_view message) {
  return WithReason(absl::UnauthenticatedError(message), reason);
}

absl::Status Tagged(absl::Status status, absl::string_view reason) {
  if (status.GetPayload(kReasonPayload).has_value()) return status;
  return WithReason(std::move(status), reason);
}

std::string Quote(absl::string_view value) {
  if (value.size() > 200 || HasControlCharacters(std::string_view(value.data(), value.size()))) {
    return "(unprintable)";
  }
  return absl::StrCat("\"", value, "\"");
}

}  // namespace tally::webauthn
