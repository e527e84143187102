#include "services/orchestrator/otp_factor.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "common/util/proto_time.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

// A well-formed user id that no user has (ids carry 128 random bits): the lookup SendOtp does
// for an unknown username.
constexpr absl::string_view kNobodysUserId = "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa";

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

// What the OTP service accepts as a code.
constexpr size_t kMaxCodeDigits = 16;

AuthMethod MethodOfChannel(otppb::Channel channel) {
  return channel == otppb::CHANNEL_SMS ? cpb::AUTH_METHOD_SMS_OTP : cpb::AUTH_METHOD_EMAIL_OTP;
}

}  // namespace

OtpFactor::OtpFactor(LoginCore& core, OtpPeer& otp) : core_(core), otp_(otp) {}

bool OtpFactor::Completes(AuthMethod method) const {
  return method == cpb::AUTH_METHOD_SMS_OTP || method == cpb::AUTH_METHOD_EMAIL_OTP;
}

void OtpFactor::LearnCaps(const User& user, const AuthSettings& settings, absl::Time, bool, bool,
                          UserCaps& caps) {
  // Rule 7: SMS only to a phone in one of the directory's SMS countries (when it lists any).
  caps.has_phone =
      !user.phone_number().empty() && policy::SmsAllowedTo(settings, user.phone_number());
  caps.has_email = !user.email().empty();
}

bool OtpFactor::Usable(AuthMethod method, LoginRecord& record, absl::Time) {
  if (!record.caps.has_value()) return false;
  return method == cpb::AUTH_METHOD_SMS_OTP ? record.caps->has_phone : record.caps->has_email;
}

absl::StatusOr<pb::LoginState> OtpFactor::Send(const pb::SendOtpRequest& request,
                                               absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  const otppb::Channel channel = request.channel();
  if (channel != otppb::CHANNEL_SMS && channel != otppb::CHANNEL_EMAIL) {
    return absl::InvalidArgumentError("channel must be CHANNEL_SMS or CHANNEL_EMAIL");
  }
  absl::StatusOr<OpenStep> step =
      core_.Open(request.login_id(), MethodOfChannel(channel), deadline);
  if (!step.ok()) return step.status();
  LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  absl::StatusOr<absl::Duration> locked = core_.LockedFor(record);
  if (!locked.ok()) return locked.status();
  if (*locked > absl::ZeroDuration()) {
    return core_.Finalize(std::move(record), settings, deadline, *locked);
  }

  const std::string user_id = record.user_id.empty() ? record.candidate_user_id : record.user_id;
  std::string destination;
  // An unknown username costs the same lookup as a known one (of an id nobody has), so neither
  // the work done nor the time taken tells whether the user exists.
  absl::StatusOr<User> user =
      core_.credentials().GetUser(user_id.empty() ? kNobodysUserId : user_id, deadline);
  if (user.ok() && !user_id.empty()) {
    destination = channel == otppb::CHANNEL_SMS ? user->phone_number() : user->email();
  } else if (!user.ok() && !absl::IsNotFound(user.status())) {
    return user.status();
  }
  // The directory's SMS countries, checked at send time (settings may have changed since the
  // user was proven). Before proof a phone outside them is no destination (the answer must not
  // tell where the user's phone is); once proven the method is not offered.
  if (channel == otppb::CHANNEL_SMS && !destination.empty() &&
      !policy::SmsAllowedTo(settings, destination)) {
    if (!record.user_id.empty()) {
      return absl::FailedPreconditionError("AUTH_METHOD_SMS_OTP is not offered in this login");
    }
    destination.clear();
  }
  otppb::SendCodeRequest send;
  send.set_directory_id(record.directory_id);
  send.set_channel(channel);
  if (destination.empty()) {
    // Nobody to send to: the OTP service throttles the subject as it would a destination
    // (its own cooldown, caps and words) and keeps a challenge no code matches.
    send.set_no_recipient(true);
    send.set_no_recipient_key(record.subject.empty() ? record.login_id : record.subject);
  } else {
    send.set_user_id(user_id);
    send.set_destination(destination);
  }
  // The OTP service's send budgets (one home): per address, and the small pre-proof ones until
  // the login has proven a factor.
  send.set_client_ip(record.client_ip);
  send.set_proven(!record.user_id.empty());
  absl::StatusOr<otppb::SendCodeResponse> sent = otp_.SendCode(send, deadline);
  if (!sent.ok()) return sent.status();
  OtpState otp;
  otp.channel = channel;
  otp.challenge_id = sent->challenge_id();
  otp.resend_after = FromProtoTime(sent->resend_after());
  // Shown only once the user is proven: a masked number would tell that the user exists.
  if (!record.user_id.empty()) otp.masked_destination = sent->masked_destination();
  LoginUpdate update;
  update.otp = otp;
  absl::StatusOr<LoginRecord> after = core_.logins().Update(record.login_id, update);
  if (!after.ok()) return after.status();
  return core_.Finalize(*std::move(after), settings, deadline, std::nullopt);
}

absl::StatusOr<pb::LoginState> OtpFactor::Verify(const pb::VerifyOtpRequest& request,
                                                 absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("code", request.code(), 64); !s.ok()) return s;
  // What the OTP service accepts (1 to 16 digits). Checked here, before any reservation: the
  // service would answer INVALID_ARGUMENT, which reached the caller as "otp service unavailable".
  if (request.code().size() > kMaxCodeDigits ||
      !std::all_of(request.code().begin(), request.code().end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("code must be 1 to 16 digits");
  }
  const absl::Status no_code = absl::FailedPreconditionError("no code was sent in this login");
  absl::StatusOr<OpenStep> step = core_.Open(
      request.login_id(), deadline, [&](const LoginRecord& record) -> absl::StatusOr<AuthMethod> {
        if (!record.otp.has_value()) return no_code;
        return MethodOfChannel(record.otp->channel);
      });
  if (!step.ok()) return step.status();
  LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  const OtpState otp = *record.otp;
  const AuthMethod method = MethodOfChannel(otp.channel);
  if (record.subject.empty()) return no_code;
  absl::StatusOr<Reservation> reservation = core_.Reserve(record);
  if (!reservation.ok()) return reservation.status();
  if (!reservation->granted) {
    return core_.Finalize(std::move(record), settings, deadline, reservation->retry_after);
  }

  if (otp.challenge_id.empty()) {
    // A code an older replica "sent" to nobody without asking the OTP service: none matches.
    return core_.Finalize(core_.Reject(record, method, reservation->id, 0, {}), settings, deadline);
  }
  otppb::VerifyCodeRequest verify;
  verify.set_directory_id(record.directory_id);
  verify.set_challenge_id(otp.challenge_id);
  verify.set_code(request.code());
  absl::StatusOr<otppb::VerifyCodeResponse> result =
      otp_.VerifyCode(verify, kReservedCheckDeadline);
  if (!result.ok()) {
    (void)core_.lockout().Cancel(record.directory_id, record.subject, reservation->id);
    return result.status();
  }
  const std::string expected = record.user_id.empty() ? record.candidate_user_id : record.user_id;
  if (result->result() == otppb::VERIFY_RESULT_ACCEPTED && !expected.empty() &&
      result->user_id() == expected) {
    return core_.Finalize(
        core_.Accept(record, method, expected, reservation->id, {}, settings, deadline), settings,
        deadline);
  }
  const int left =
      result->result() == otppb::VERIFY_RESULT_WRONG_CODE ? result->attempts_left() : 0;
  return core_.Finalize(core_.Reject(record, method, reservation->id, left, {}), settings,
                        deadline);
}

}  // namespace tally::orchestrator
