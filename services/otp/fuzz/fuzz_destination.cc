// libFuzzer: the destination check of SendCode (services/otp/destination.h) and the masking of
// what SendCode returns and the sender logs. The input is parsed as a SendCodeRequest, as
// protobuf takes it off the wire; when it does not parse, the first byte is the channel and
// the rest the raw destination.
//
// Invariants: a destination is accepted exactly when the contact rules (common/util/contact.h)
// accept it for its channel; an accepted SMS destination is '+' and 8..15 digits without a
// leading zero; an accepted e-mail destination is at most kMaxEmailBytes of printable ASCII with
// exactly one '@' and a dotted domain; any other channel is refused; errors are
// INVALID_ARGUMENT and never quote the destination; the mask of an accepted destination keeps
// only what it promises (SMS: "+" and two digits, then '*', then the last two digits, same
// length; e-mail: the first character, "***" and the domain).

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/contact.h"
#include "services/otp/destination.h"
#include "tally/otp/v1/otp.pb.h"

namespace {

using ::tally::fuzz::Check;
using ::tally::fuzz::Distinctive;

namespace otp = ::tally::otp;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  otp::v1::SendCodeRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    if (size == 0) return 0;
    request.Clear();
    request.set_channel(static_cast<otp::v1::Channel>(static_cast<int8_t>(data[0]) % 4));
    request.set_destination(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  }
  const otp::v1::Channel channel = request.channel();
  const std::string& destination = request.destination();
  const absl::Status status = otp::ValidateDestination(channel, destination);
  const bool by_the_rules =
      channel == otp::v1::CHANNEL_SMS     ? tally::IsE164(destination)
      : channel == otp::v1::CHANNEL_EMAIL ? tally::CheckEmailAddress(destination).ok()
                                          : false;
  Check(status.ok() == by_the_rules);
  if (!status.ok()) {
    Check(status.code() == absl::StatusCode::kInvalidArgument);
    if (Distinctive(destination)) Check(!absl::StrContains(status.message(), destination));
    return 0;
  }
  const std::string masked = otp::MaskDestination(channel, destination);
  if (channel == otp::v1::CHANNEL_SMS) {
    Check(destination.size() >= 9 && destination.size() <= 16 && destination[0] == '+' &&
          destination[1] != '0');
    for (size_t i = 1; i < destination.size(); ++i) {
      Check(absl::ascii_isdigit(static_cast<unsigned char>(destination[i])));
    }
    Check(masked.size() == destination.size());
    Check(masked.substr(0, 3) == destination.substr(0, 3));
    Check(masked.substr(masked.size() - 2) == destination.substr(destination.size() - 2));
    for (size_t i = 3; i + 2 < masked.size(); ++i) Check(masked[i] == '*');
  } else {
    Check(channel == otp::v1::CHANNEL_EMAIL);
    Check(destination.size() <= tally::kMaxEmailBytes);
    for (unsigned char c : destination) Check(c > 0x20 && c < 0x7f);
    const size_t at = destination.find('@');
    Check(at != std::string::npos && at > 0 && destination.rfind('@') == at);
    Check(destination.find('.', at) != std::string::npos);
    Check(masked == absl::StrCat(destination.substr(0, 1), "***", destination.substr(at)));
  }
  return 0;
}
