#include "services/orchestrator/login_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging/logging.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

constexpr size_t kMaxUsernameBytes = 256;
constexpr size_t kMaxSecretBytes = 4096;
constexpr size_t kMaxPasskeyResponseBytes = 64 * 1024;

// The deadline of a reserved factor check (password, code, passkey): only the peer's own
// timeout, never the caller's. A caller whose deadline ends while the verifier is checking would
// otherwise make us give the reservation back uncounted although the verifier did check, so
// short deadlines would buy unlimited uncounted guesses (issue 9, brute force). The check is
// awaited and its outcome recorded even when nobody is left to read the answer.
constexpr absl::Time kReservedCheckDeadline = absl::InfiniteFuture();

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("login");
  return logger;
}

AuthMethod MethodOfChannel(otppb::Channel channel) {
  return channel == otppb::CHANNEL_SMS ? cpb::AUTH_METHOD_SMS_OTP : cpb::AUTH_METHOD_EMAIL_OTP;
}

std::string MethodLabel(AuthMethod method) {
  switch (method) {
    case cpb::AUTH_METHOD_PASSWORD: return "password";
    case cpb::AUTH_METHOD_SMS_OTP: return "sms_otp";
    case cpb::AUTH_METHOD_EMAIL_OTP: return "email_otp";
    case cpb::AUTH_METHOD_PASSKEY: return "passkey";
    default: return "unknown";
  }
}

std::vector<AuthMethod> CompletedList(const LoginRecord& record) {
  std::vector<AuthMethod> methods;
  for (AuthMethod method : policy::KnownMethods()) {
    if (record.completed.contains(method)) methods.push_back(method);
  }
  return methods;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is too long"));
  }
  if (!IsValidUtf8(std::string_view(value.data(), value.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status CheckLoginId(absl::string_view login_id) {
  if (login_id.empty()) return absl::InvalidArgumentError("login_id is required");
  return absl::OkStatus();
}

// Labels a step's result for the metrics.
template <typename T>
std::string Outcome(const absl::StatusOr<T>& result) {
  if (!result.ok()) return absl::StatusCodeToString(result.status().code());
  switch (result->status()) {
    case pb::LOGIN_STATUS_SUCCEEDED: return "succeeded";
    case pb::LOGIN_STATUS_LOCKED: return "locked";
    default: break;
  }
  if (result->has_last_step() && result->last_step().outcome() == pb::STEP_OUTCOME_REJECTED) {
    return "rejected";
  }
  return "in_progress";
}

// Counts and times a step, then wraps its state in the RPC's response.
template <typename Response>
absl::StatusOr<Response> Respond(LoginMetrics* metrics, absl::string_view step,
                                 absl::Time started, absl::StatusOr<pb::LoginState> state) {
  if (metrics != nullptr) {
    metrics->Step(step, Outcome(state), absl::ToDoubleSeconds(absl::Now() - started));
  }
  if (!state.ok()) return state.status();
  Response response;
  *response.mutable_state() = *std::move(state);
  return response;
}

}  // namespace

LoginManager::LoginManager(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
                           CredentialPeer& credentials, OtpPeer& otp, PasskeyPeer& passkeys,
                           SessionManager& sessions, const Clock& clock, RandomSource& random,
                           LoginConfig config, LoginMetrics* metrics)
    : logins_(logins),
      lockout_(lockout),
      policy_(policy),
      credentials_(credentials),
      otp_(otp),
      passkeys_(passkeys),
      sessions_(sessions),
      clock_(clock),
      random_(random),
      config_(config),
      metrics_(metrics) {}

// ---------------------------------------------------------------------------------------------
// Public steps: metrics around the implementations.

absl::StatusOr<pb::StartLoginResponse> LoginManager::StartLogin(
    const pb::StartLoginRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::StartLoginResponse>(metrics_, "start_login", started,
                                         StartLoginImpl(request, deadline));
}

absl::StatusOr<pb::SubmitPasswordResponse> LoginManager::SubmitPassword(
    const pb::SubmitPasswordRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SubmitPasswordResponse>(metrics_, "submit_password", started,
                                             SubmitPasswordImpl(request, deadline));
}

absl::StatusOr<pb::SendOtpResponse> LoginManager::SendOtp(const pb::SendOtpRequest& request,
                                                          absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SendOtpResponse>(metrics_, "send_otp", started,
                                      SendOtpImpl(request, deadline));
}

absl::StatusOr<pb::VerifyOtpResponse> LoginManager::VerifyOtp(const pb::VerifyOtpRequest& request,
                                                              absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::VerifyOtpResponse>(metrics_, "verify_otp", started,
                                        VerifyOtpImpl(request, deadline));
}

absl::StatusOr<pb::StartPasskeyResponse> LoginManager::StartPasskey(
    const pb::StartPasskeyRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  std::string options;
  absl::StatusOr<pb::LoginState> state = StartPasskeyImpl(request, deadline, options);
  absl::StatusOr<pb::StartPasskeyResponse> response =
      Respond<pb::StartPasskeyResponse>(metrics_, "start_passkey", started, std::move(state));
  if (response.ok()) response->set_request_options_json(std::move(options));
  return response;
}

absl::StatusOr<pb::FinishPasskeyResponse> LoginManager::FinishPasskey(
    const pb::FinishPasskeyRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::FinishPasskeyResponse>(metrics_, "finish_passkey", started,
                                            FinishPasskeyImpl(request, deadline));
}

absl::StatusOr<pb::GetLoginResponse> LoginManager::GetLogin(const pb::GetLoginRequest& request,
                                                            absl::Time deadline) {
  const absl::Time started = absl::Now();
  auto impl = [&]() -> absl::StatusOr<pb::LoginState> {
    if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
    absl::StatusOr<LoginRecord> record = Load(request.login_id());
    if (!record.ok()) return record.status();
    absl::StatusOr<AuthSettings> settings =
        policy_.GetAuthSettings(record->directory_id, deadline);
    if (!settings.ok()) return settings.status();
    absl::StatusOr<absl::Duration> locked = LockedFor(*record);
    if (!locked.ok()) return locked.status();
    return Finalize(*std::move(record), *settings, deadline,
                    *locked > absl::ZeroDuration() ? std::optional(*locked) : std::nullopt);
  };
  return Respond<pb::GetLoginResponse>(metrics_, "get_login", started, impl());
}

absl::StatusOr<pb::StartStepUpResponse> LoginManager::StartStepUp(
    const pb::StartStepUpRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::StartStepUpResponse>(metrics_, "start_step_up", started,
                                          StartStepUpImpl(request, deadline));
}

// ---------------------------------------------------------------------------------------------
// Steps

absl::StatusOr<pb::LoginState> LoginManager::StartLoginImpl(const pb::StartLoginRequest& request,
                                                            absl::Time deadline) {
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  const std::string& username = request.username();
  if (!username.empty()) {
    if (absl::Status s = CheckText("username", username, kMaxUsernameBytes); !s.ok()) return s;
    if (HasControlCharacters(username)) {
      return absl::InvalidArgumentError("username must not contain control characters");
    }
  }
  absl::StatusOr<AuthSettings> settings =
      policy_.GetAuthSettings(request.directory_id(), deadline);
  if (!settings.ok()) return settings.status();

  const absl::Time now = clock_.Now();
  LoginRecord record;
  record.login_id = NewLoginId(random_, request.directory_id());
  record.directory_id = request.directory_id();
  record.username = username;
  record.create_time = now;
  record.expire_time = now + config_.login_ttl;
  if (!username.empty()) {
    absl::StatusOr<User> user = credentials_.FindUser(request.directory_id(), username, deadline);
    if (user.ok()) {
      record.candidate_user_id = user->user_id();
      record.subject = absl::StrCat("u:", user->user_id());
    } else if (absl::IsNotFound(user.status())) {
      // Counted and locked like a user, so probing usernames gains nothing.
      record.subject = absl::StrCat("n:", absl::AsciiStrToLower(username));
    } else {
      return user.status();
    }
  }
  absl::StatusOr<absl::Duration> locked = logins_.Create(record, config_.login_ttl);
  if (!locked.ok()) return locked.status();
  return Finalize(std::move(record), *settings, deadline,
                  *locked > absl::ZeroDuration() ? std::optional(*locked) : std::nullopt);
}

absl::StatusOr<pb::LoginState> LoginManager::SubmitPasswordImpl(
    const pb::SubmitPasswordRequest& request, absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("password", request.password(), kMaxSecretBytes); !s.ok()) {
    return s;
  }
  absl::StatusOr<LoginRecord> record = LoadOpen(request.login_id());
  if (!record.ok()) return record.status();
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, cpb::AUTH_METHOD_PASSWORD, deadline);
      !s.ok()) {
    return s;
  }
  if (record->subject.empty()) {
    return absl::FailedPreconditionError("AUTH_METHOD_PASSWORD is not offered in this login");
  }
  absl::StatusOr<Reservation> reservation =
      lockout_.Reserve(record->directory_id, record->subject, clock_.Now());
  if (!reservation.ok()) return reservation.status();
  if (!reservation->granted) {
    return Finalize(*std::move(record), *settings, deadline, reservation->retry_after);
  }

  const std::string username =
      record->user_id.empty() || !record->caps.has_value() ? record->username
                                                           : record->caps->username;
  absl::StatusOr<User> user = credentials_.VerifyPassword(
      record->directory_id, username, request.password(), kReservedCheckDeadline);
  const std::string expected =
      record->user_id.empty() ? record->candidate_user_id : record->user_id;
  absl::StatusOr<LoginRecord> after;
  std::optional<absl::Duration> locked_for;
  std::optional<LastStep> step;
  std::optional<User> known;
  if (user.ok() && !expected.empty() && user->user_id() == expected) {
    known = *user;
    after = Accept(*record, cpb::AUTH_METHOD_PASSWORD, expected, reservation->id, {}, *settings,
                   deadline, step, known);
  } else if (user.ok() || absl::IsUnauthenticated(user.status())) {
    after = Reject(*record, cpb::AUTH_METHOD_PASSWORD, reservation->id, std::nullopt, {},
                   locked_for, step);
  } else {
    (void)lockout_.Cancel(record->directory_id, record->subject, reservation->id);
    return user.status();
  }
  if (!after.ok()) return after.status();
  return Finalize(*std::move(after), *settings, deadline, locked_for, step, known);
}

absl::StatusOr<pb::LoginState> LoginManager::SendOtpImpl(const pb::SendOtpRequest& request,
                                                         absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  const otppb::Channel channel = request.channel();
  if (channel != otppb::CHANNEL_SMS && channel != otppb::CHANNEL_EMAIL) {
    return absl::InvalidArgumentError("channel must be CHANNEL_SMS or CHANNEL_EMAIL");
  }
  absl::StatusOr<LoginRecord> record = LoadOpen(request.login_id());
  if (!record.ok()) return record.status();
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, MethodOfChannel(channel), deadline);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Duration> locked = LockedFor(*record);
  if (!locked.ok()) return locked.status();
  if (*locked > absl::ZeroDuration()) {
    return Finalize(*std::move(record), *settings, deadline, *locked);
  }

  const std::string user_id =
      record->user_id.empty() ? record->candidate_user_id : record->user_id;
  std::string destination;
  if (!user_id.empty()) {
    absl::StatusOr<User> user = credentials_.GetUser(user_id, deadline);
    if (user.ok()) {
      destination = channel == otppb::CHANNEL_SMS ? user->phone_number() : user->email();
    } else if (!absl::IsNotFound(user.status())) {
      return user.status();
    }
  }
  const absl::Time now = clock_.Now();
  OtpState otp;
  otp.channel = channel;
  if (destination.empty()) {
    // Nobody to send to (an unknown username, or a user without one not yet proven): answer as
    // if sent, with the OTP service's cooldown and message, and reject every code.
    const std::string key = absl::StrCat(
        record->subject.empty() ? record->login_id : record->subject, ":",
        static_cast<int>(channel));
    absl::StatusOr<FakeSend> fake = lockout_.StartFakeSend(
        record->directory_id, key, now, config_.otp_cooldown, config_.otp_destination_hourly_cap);
    if (!fake.ok()) return fake.status();
    if (!fake->sent) {
      // The OTP service's words for the same refusals (services/otp/otp_manager.cc).
      const char* what = fake->refusal == "cooldown"
                             ? "a code was just sent to this destination"
                             : "too many codes sent to this destination in the last hour";
      return absl::ResourceExhaustedError(
          absl::StrCat(what, "; retry in ",
                       absl::ToInt64Seconds(absl::Ceil(fake->retry_after, absl::Seconds(1))),
                       "s"));
    }
    otp.fake_attempts_left = config_.otp_max_attempts;
    otp.resend_after = fake->resend_after;
  } else {
    otppb::SendCodeRequest send;
    send.set_directory_id(record->directory_id);
    send.set_user_id(user_id);
    send.set_channel(channel);
    send.set_destination(destination);
    absl::StatusOr<otppb::SendCodeResponse> sent = otp_.SendCode(send, deadline);
    if (!sent.ok()) return sent.status();
    otp.challenge_id = sent->challenge_id();
    otp.resend_after = FromProtoTime(sent->resend_after());
    // Shown only once the user is proven: a masked number would tell that the user exists.
    if (!record->user_id.empty()) otp.masked_destination = sent->masked_destination();
  }
  LoginUpdate update;
  update.otp = otp;
  absl::StatusOr<LoginRecord> after = logins_.Update(record->login_id, update);
  if (!after.ok()) return after.status();
  return Finalize(*std::move(after), *settings, deadline, std::nullopt);
}

absl::StatusOr<pb::LoginState> LoginManager::VerifyOtpImpl(const pb::VerifyOtpRequest& request,
                                                           absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("code", request.code(), 64); !s.ok()) return s;
  // What the OTP service accepts (1 to 16 digits). Checked here, before any reservation: the
  // service would answer INVALID_ARGUMENT, which reached the caller as "otp service unavailable".
  if (request.code().size() > 16 ||
      !std::all_of(request.code().begin(), request.code().end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("code must be 1 to 16 digits");
  }
  absl::StatusOr<LoginRecord> record = LoadOpen(request.login_id());
  if (!record.ok()) return record.status();
  if (!record->otp.has_value()) {
    return absl::FailedPreconditionError("no code was sent in this login");
  }
  const OtpState otp = *record->otp;
  const AuthMethod method = MethodOfChannel(otp.channel);
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, method, deadline); !s.ok()) return s;
  if (record->subject.empty()) {
    return absl::FailedPreconditionError("no code was sent in this login");
  }
  absl::StatusOr<Reservation> reservation =
      lockout_.Reserve(record->directory_id, record->subject, clock_.Now());
  if (!reservation.ok()) return reservation.status();
  if (!reservation->granted) {
    return Finalize(*std::move(record), *settings, deadline, reservation->retry_after);
  }

  absl::StatusOr<LoginRecord> after;
  std::optional<User> user;  // read once by Accept, reused by Finalize
  std::optional<absl::Duration> locked_for;
  std::optional<LastStep> step;
  if (otp.challenge_id.empty()) {
    LoginUpdate base;
    base.use_fake_attempt = true;
    after = Reject(*record, method, reservation->id,
                   std::max(0, otp.fake_attempts_left - 1), std::move(base), locked_for, step);
  } else {
    otppb::VerifyCodeRequest verify;
    verify.set_directory_id(record->directory_id);
    verify.set_challenge_id(otp.challenge_id);
    verify.set_code(request.code());
    absl::StatusOr<otppb::VerifyCodeResponse> result =
        otp_.VerifyCode(verify, kReservedCheckDeadline);
    if (!result.ok()) {
      (void)lockout_.Cancel(record->directory_id, record->subject, reservation->id);
      return result.status();
    }
    const std::string expected =
        record->user_id.empty() ? record->candidate_user_id : record->user_id;
    if (result->result() == otppb::VERIFY_RESULT_ACCEPTED && !expected.empty() &&
        result->user_id() == expected) {
      after = Accept(*record, method, expected, reservation->id, {}, *settings, deadline, step,
                     user);
    } else {
      const int left =
          result->result() == otppb::VERIFY_RESULT_WRONG_CODE ? result->attempts_left() : 0;
      after = Reject(*record, method, reservation->id, left, {}, locked_for, step);
    }
  }
  if (!after.ok()) return after.status();
  return Finalize(*std::move(after), *settings, deadline, locked_for, step, user);
}

absl::StatusOr<pb::LoginState> LoginManager::StartPasskeyImpl(
    const pb::StartPasskeyRequest& request, absl::Time deadline, std::string& options) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  absl::StatusOr<LoginRecord> record = LoadOpen(request.login_id());
  if (!record.ok()) return record.status();
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, cpb::AUTH_METHOD_PASSKEY, deadline);
      !s.ok()) {
    return s;
  }
  // Until the user is proven the ceremony is discoverable, whether or not the username exists:
  // options listing the user's credentials would reveal the user.
  absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> started =
      passkeys_.StartAuthentication(record->directory_id, record->user_id, deadline);
  if (!started.ok()) return started.status();
  LoginUpdate update;
  update.passkey_challenge_id = started->challenge_id();
  // The subject's lock is read by the script that stores the challenge (one round trip, not
  // two): a locked login keeps no challenge, answers LOCKED without options, and the challenge
  // drawn expires unused in the passkey service.
  absl::StatusOr<GuardedUpdate> after =
      logins_.UpdateUnlessLocked(record->login_id, update, record->subject, clock_.Now());
  if (!after.ok()) return after.status();
  if (after->locked_for > absl::ZeroDuration()) {
    return Finalize(std::move(after->record), *settings, deadline, after->locked_for);
  }
  options = started->request_options_json();
  return Finalize(std::move(after->record), *settings, deadline, std::nullopt);
}

absl::StatusOr<pb::LoginState> LoginManager::FinishPasskeyImpl(
    const pb::FinishPasskeyRequest& request, absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("authentication_response_json",
                                 request.authentication_response_json(),
                                 kMaxPasskeyResponseBytes);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<LoginRecord> record = LoadOpen(request.login_id());
  if (!record.ok()) return record.status();
  if (record->passkey_challenge_id.empty()) {
    return absl::FailedPreconditionError("no passkey ceremony was started in this login");
  }
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, cpb::AUTH_METHOD_PASSKEY, deadline);
      !s.ok()) {
    return s;
  }
  // A passkey-first login has no subject yet: the passkey names the user only on success.
  std::string reservation_id;
  if (!record->subject.empty()) {
    absl::StatusOr<Reservation> reservation =
        lockout_.Reserve(record->directory_id, record->subject, clock_.Now());
    if (!reservation.ok()) return reservation.status();
    if (!reservation->granted) {
      return Finalize(*std::move(record), *settings, deadline, reservation->retry_after);
    }
    reservation_id = reservation->id;
  }
  absl::StatusOr<::tally::passkey::v1::FinishAuthenticationResponse> result =
      passkeys_.FinishAuthentication(record->directory_id, record->passkey_challenge_id,
                                     request.authentication_response_json(),
                                     kReservedCheckDeadline);
  LoginUpdate base;
  base.passkey_challenge_id = "";  // consumed either way
  absl::StatusOr<LoginRecord> after;
  std::optional<User> user;  // read once by Accept, reused by Finalize
  std::optional<absl::Duration> locked_for;
  std::optional<LastStep> step;
  if (result.ok()) {
    const bool passkey_first = record->username.empty() && record->user_id.empty();
    const std::string expected = passkey_first ? result->user_id()
                                 : record->user_id.empty() ? record->candidate_user_id
                                                           : record->user_id;
    if (passkey_first) {
      // The user is known only now: a locked user stays locked, even with a passkey.
      LoginRecord named = *record;
      named.subject = absl::StrCat("u:", expected);
      absl::StatusOr<absl::Duration> locked = LockedFor(named);
      if (!locked.ok()) return locked.status();
      if (*locked > absl::ZeroDuration()) {
        absl::StatusOr<LoginRecord> cleared = logins_.Update(record->login_id, base);
        if (!cleared.ok()) return cleared.status();
        return Finalize(*std::move(cleared), *settings, deadline, *locked);
      }
    }
    if (!expected.empty() && result->user_id() == expected) {
      base.passkey_synced = result->backup_state();
      after = Accept(*record, cpb::AUTH_METHOD_PASSKEY, expected, reservation_id, base, *settings,
                     deadline, step, user);
    } else {
      after = Reject(*record, cpb::AUTH_METHOD_PASSKEY, reservation_id, std::nullopt, base,
                     locked_for, step);
    }
  } else if (absl::IsNotFound(result.status()) || absl::IsUnauthenticated(result.status()) ||
             // The passkey service's answers for a used or expired challenge (a replay) and
             // for a malformed response: a failed factor like any other.
             absl::IsFailedPrecondition(result.status()) ||
             absl::IsInvalidArgument(result.status())) {
    after = Reject(*record, cpb::AUTH_METHOD_PASSKEY, reservation_id, std::nullopt, base,
                   locked_for, step);
  } else {
    if (!reservation_id.empty()) {
      (void)lockout_.Cancel(record->directory_id, record->subject, reservation_id);
    }
    return result.status();
  }
  if (!after.ok()) return after.status();
  return Finalize(*std::move(after), *settings, deadline, locked_for, step, user);
}

absl::StatusOr<pb::LoginState> LoginManager::StartStepUpImpl(
    const pb::StartStepUpRequest& request, absl::Time deadline) {
  if (request.session_token().empty()) {
    return absl::InvalidArgumentError("session_token is required");
  }
  if (request.required_level() <= 0 || request.required_level() > policy::kMaxPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("required_level must be 1 to ", policy::kMaxPoints));
  }
  if (request.max_age_seconds() < 0) {
    return absl::InvalidArgumentError("max_age_seconds must not be negative");
  }
  absl::StatusOr<SessionClaims> claims = sessions_.Validate(request.session_token());
  if (!claims.ok()) return claims.status();
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(claims->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<User> user = credentials_.GetUser(claims->subject, deadline);
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError("invalid session token: the user no longer exists");
  }
  if (!user.ok()) return user.status();
  absl::StatusOr<UserCaps> caps = CapsFor(*user, *settings, deadline);
  if (!caps.ok()) return caps.status();

  const absl::Time now = clock_.Now();
  LoginRecord record;
  record.login_id = NewLoginId(random_, claims->directory_id);
  record.directory_id = claims->directory_id;
  record.subject = absl::StrCat("u:", claims->subject);
  record.candidate_user_id = claims->subject;
  record.user_id = claims->subject;
  record.caps = *caps;
  record.step_up_level = request.required_level();
  record.create_time = now;
  record.expire_time = now + config_.login_ttl;
  // Each method of the session counts when it was completed at most max_age_seconds ago;
  // the token's "amr_time" says when. A token without it predates per-method times: none count.
  if (request.max_age_seconds() > 0) {
    for (const auto& [method, at] : MethodTimesOf(*claims)) {
      if (now - at > absl::Seconds(request.max_age_seconds())) continue;
      record.completed[method] = at;
      if (method == cpb::AUTH_METHOD_PASSKEY) {
        record.passkey_synced =
            std::find(claims->amr.begin(), claims->amr.end(), "swk") != claims->amr.end();
      }
    }
  }
  absl::StatusOr<absl::Duration> locked = logins_.Create(record, config_.login_ttl);
  if (!locked.ok()) return locked.status();
  return Finalize(std::move(record), *settings, deadline,
                  *locked > absl::ZeroDuration() ? std::optional(*locked) : std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Helpers

absl::StatusOr<LoginRecord> LoginManager::Load(absl::string_view login_id) {
  absl::StatusOr<LoginRecord> record = logins_.Get(login_id);
  if (!record.ok()) return record.status();
  // Redis expires the key on its own clock; the injected clock decides too, so both agree.
  if (clock_.Now() >= record->expire_time) {
    return absl::NotFoundError("unknown or expired login");
  }
  return record;
}

absl::StatusOr<LoginRecord> LoginManager::LoadOpen(absl::string_view login_id) {
  absl::StatusOr<LoginRecord> record = Load(login_id);
  if (!record.ok()) return record.status();
  if (record->finished()) return absl::FailedPreconditionError("login already finished");
  return record;
}

absl::StatusOr<absl::Duration> LoginManager::LockedFor(const LoginRecord& record) {
  if (record.subject.empty()) return absl::ZeroDuration();
  return lockout_.LockedFor(record.directory_id, record.subject, clock_.Now());
}

absl::StatusOr<UserCaps> LoginManager::CapsFor(const User& user, const AuthSettings& settings,
                                               absl::Time deadline, bool passkey_used,
                                               bool login_complete) {
  UserCaps caps;
  caps.username = user.username();
  caps.has_password = user.has_password();
  caps.has_phone = !user.phone_number().empty();
  caps.has_email = !user.email().empty();
  if (passkey_used) {
    caps.has_passkey = 1;  // it was just accepted: no need to ask
  } else if (!login_complete && policy::PointsFor(settings, cpb::AUTH_METHOD_PASSKEY) > 0) {
    absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> probe =
        passkeys_.StartAuthentication(user.directory_id(), user.user_id(), deadline);
    if (probe.ok()) {
      caps.has_passkey = 1;
    } else if (absl::IsFailedPrecondition(probe.status())) {
      caps.has_passkey = 0;
    } else {
      Log()->warn("cannot tell whether user {} has a passkey: {}", user.user_id(),
                  probe.status());
    }
  }
  return caps;
}

absl::StatusOr<std::vector<cpb::MethodPoints>> LoginManager::Offers(LoginRecord& record,
                                                                    const AuthSettings& settings,
                                                                    absl::Time deadline) {
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, CompletedList(record));
  if (!eval.ok()) return eval.status();
  std::vector<cpb::MethodPoints> offers;
  if (record.user_id.empty()) {
    // Not proven: the directory alone decides (a passkey-first login can only use a passkey).
    for (const cpb::MethodPoints& offer : eval->offered) {
      if (!record.username.empty() || offer.method() == cpb::AUTH_METHOD_PASSKEY) {
        offers.push_back(offer);
      }
    }
    return offers;
  }
  UserCaps caps = record.caps.value_or(UserCaps{});
  for (const cpb::MethodPoints& offer : eval->offered) {
    switch (offer.method()) {
      case cpb::AUTH_METHOD_PASSWORD:
        if (caps.has_password) offers.push_back(offer);
        break;
      case cpb::AUTH_METHOD_SMS_OTP:
        if (caps.has_phone) offers.push_back(offer);
        break;
      case cpb::AUTH_METHOD_EMAIL_OTP:
        if (caps.has_email) offers.push_back(offer);
        break;
      case cpb::AUTH_METHOD_PASSKEY:
        if (caps.has_passkey < 0) {
          // PASSKEY was disabled or the passkey service down when the user was proven.
          absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> probe =
              passkeys_.StartAuthentication(record.directory_id, record.user_id, deadline);
          if (probe.ok() || absl::IsFailedPrecondition(probe.status())) {
            caps.has_passkey = probe.ok() ? 1 : 0;
            record.caps = caps;
            LoginUpdate update;
            update.caps = caps;
            (void)logins_.Update(record.login_id, update);  // a cache: losing it costs a call
          }
        }
        if (caps.has_passkey == 1) offers.push_back(offer);
        break;
      default: break;
    }
  }
  return offers;
}

absl::Status LoginManager::RequireOffered(LoginRecord& record, const AuthSettings& settings,
                                          AuthMethod method, absl::Time deadline) {
  absl::StatusOr<std::vector<cpb::MethodPoints>> offers = Offers(record, settings, deadline);
  if (!offers.ok()) return offers.status();
  for (const cpb::MethodPoints& offer : *offers) {
    if (offer.method() == method) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat(cpb::AuthMethod_Name(method), " is not offered in this login"));
}

absl::StatusOr<LoginRecord> LoginManager::Accept(const LoginRecord& record, AuthMethod method,
                                                 absl::string_view user_id,
                                                 absl::string_view reservation,
                                                 LoginUpdate update,
                                                 const AuthSettings& settings,
                                                 absl::Time deadline,
                                                 std::optional<LastStep>& step,
                                                 std::optional<User>& user) {
  const std::string subject =
      record.subject.empty() ? absl::StrCat("u:", user_id) : record.subject;
  // The factor was right: the consecutive failures end here, in the same write as the login.
  update.lockout_success = LockoutSuccess{subject, std::string(reservation)};
  update.complete_method = method;
  update.completed_at = clock_.Now();
  update.last_step = LastStep{method, pb::STEP_OUTCOME_ACCEPTED, 0};
  step = update.last_step;
  std::vector<AuthMethod> completed = CompletedList(record);
  if (!record.completed.contains(method)) completed.push_back(method);
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, completed);
  if (!eval.ok()) return eval.status();
  const int required = record.step_up_level > 0 ? record.step_up_level : eval->required_level;
  const bool completes = eval->score >= required;
  if (record.user_id.empty()) {
    if (!user.has_value() || user->user_id() != user_id) {
      absl::StatusOr<User> read = credentials_.GetUser(user_id, deadline);
      if (!read.ok()) return read.status();
      user = *std::move(read);
    }
    // A step that reaches the level finishes the login: no offers follow, so the passkey
    // probe (a passkey-service call, a PostgreSQL read and a challenge written to Redis) would
    // be wasted on every single-factor login.
    absl::StatusOr<UserCaps> caps = CapsFor(*user, settings, deadline,
                                            method == cpb::AUTH_METHOD_PASSKEY, completes);
    if (!caps.ok()) return caps.status();
    update.user_id = std::string(user_id);
    update.caps = *caps;
    if (record.subject.empty()) update.subject = subject;
  }
  if (completes) {
    // The session is issued from the login as this update leaves it, and stored with it.
    LoginRecord completed_record = record;
    ApplyUpdate(update, completed_record);
    return IssueSession(completed_record, eval->score, deadline, user, update);
  }
  absl::StatusOr<LoginRecord> after = logins_.Update(record.login_id, update);
  // Another step finished the login meanwhile: answer with its state.
  if (absl::IsFailedPrecondition(after.status())) return logins_.Get(record.login_id);
  return after;
}

absl::StatusOr<LoginRecord> LoginManager::Reject(const LoginRecord& record, AuthMethod method,
                                                 absl::string_view reservation,
                                                 std::optional<int> factor_attempts_left,
                                                 LoginUpdate update,
                                                 std::optional<absl::Duration>& locked_for,
                                                 std::optional<LastStep>& step) {
  if (record.subject.empty()) {
    // Nobody to count the failure for (a passkey-first login whose assertion named nobody).
    int left = lockout_.threshold();
    if (factor_attempts_left.has_value()) left = std::min(left, *factor_attempts_left);
    update.last_step = LastStep{method, pb::STEP_OUTCOME_REJECTED, std::max(0, left)};
    step = update.last_step;
    absl::StatusOr<LoginRecord> after = logins_.Update(record.login_id, update);
    if (absl::IsFailedPrecondition(after.status())) return logins_.Get(record.login_id);
    return after;
  }
  // The failure is counted by the script that records the step: one round trip, not two.
  update.last_step = LastStep{method, pb::STEP_OUTCOME_REJECTED, 0};  // the store fills it in
  absl::StatusOr<Rejection> rejection = logins_.Reject(
      record.login_id, update,
      LockoutFailure{record.subject, std::string(reservation), clock_.Now(), lockout_.policy(),
                     factor_attempts_left});
  if (!rejection.ok()) return rejection.status();
  if (rejection->outcome.locked) {
    locked_for = rejection->outcome.retry_after;
    if (metrics_ != nullptr) metrics_->Locked();
  }
  step = LastStep{method, pb::STEP_OUTCOME_REJECTED, rejection->attempts_left};
  if (absl::IsFailedPrecondition(rejection->record.status())) {
    return logins_.Get(record.login_id);
  }
  return std::move(rejection->record);
}

absl::StatusOr<LoginRecord> LoginManager::IssueSession(const LoginRecord& record, int level,
                                                       absl::Time deadline,
                                                       const std::optional<User>& known_user,
                                                       const LoginUpdate& update) {
  absl::StatusOr<User> user = known_user.has_value() && known_user->user_id() == record.user_id
                                  ? absl::StatusOr<User>(*known_user)
                                  : credentials_.GetUser(record.user_id, deadline);
  if (!user.ok()) return user.status();
  const std::vector<AuthMethod> completed = CompletedList(record);
  SessionRequest session;
  session.user_id = record.user_id;
  session.directory_id = record.directory_id;
  session.roles.assign(user->roles().begin(), user->roles().end());
  session.methods = completed;
  session.level = level;
  session.passkey_synced = record.passkey_synced;
  session.method_times = record.completed;
  session.auth_time = absl::InfinitePast();
  for (const auto& [method, at] : record.completed) {
    session.auth_time = std::max(session.auth_time, at);
  }
  absl::StatusOr<IssuedSession> issued = sessions_.Issue(session);
  if (!issued.ok()) return issued.status();
  absl::StatusOr<FinishResult> finished = logins_.Finish(
      record.login_id, issued->token, issued->session_id, issued->expires_at, update);
  if (!finished.ok()) return finished.status();
  if (finished->won) {
    if (metrics_ != nullptr) {
      std::vector<std::string> labels;
      for (AuthMethod method : completed) labels.push_back(MethodLabel(method));
      metrics_->LoginFinished("succeeded", absl::StrJoin(labels, "+"));
    }
    Log()->info("login {} succeeded for user {} in directory {} (level {})", record.login_id,
                record.user_id, record.directory_id, level);
  }
  // The loser's token was never handed out; the winner's session is everyone's answer.
  return std::move(finished->record);
}

absl::StatusOr<pb::LoginState> LoginManager::Finalize(LoginRecord record,
                                                      const AuthSettings& settings,
                                                      absl::Time deadline,
                                                      std::optional<absl::Duration> locked_for,
                                                      std::optional<LastStep> step,
                                                      const std::optional<User>& known_user) {
  const std::vector<AuthMethod> completed = CompletedList(record);
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, completed);
  if (!eval.ok()) return eval.status();
  const int required =
      record.step_up_level > 0 ? record.step_up_level : eval->required_level;

  if (!record.finished() && !record.user_id.empty() && !locked_for.has_value() &&
      eval->score >= required) {
    absl::StatusOr<LoginRecord> finished =
        IssueSession(record, eval->score, deadline, known_user, LoginUpdate{});
    if (!finished.ok()) return finished.status();
    record = *std::move(finished);
  }

  pb::LoginState state;
  state.set_login_id(record.login_id);
  state.set_directory_id(record.directory_id);
  // Recomputed from the stored login (a racing step may have added a method).
  const std::vector<AuthMethod> final_completed = CompletedList(record);
  absl::StatusOr<policy::Evaluation> final_eval = policy::Evaluate(settings, final_completed);
  if (!final_eval.ok()) return final_eval.status();
  state.set_score(final_eval->score);
  state.set_required_level(required);
  for (AuthMethod method : final_completed) state.add_completed_methods(method);
  if (record.finished()) {
    state.set_status(pb::LOGIN_STATUS_SUCCEEDED);
    pb::Session* session = state.mutable_session();
    session->set_token(record.session_token);
    session->set_session_id(record.session_id);
    *session->mutable_expire_time() = ToProtoTime(record.session_expire_time);
  } else {
    absl::StatusOr<std::vector<cpb::MethodPoints>> offers = Offers(record, settings, deadline);
    if (!offers.ok()) return offers.status();
    for (const cpb::MethodPoints& offer : *offers) *state.add_offered_methods() = offer;
    if (locked_for.has_value()) {
      state.set_status(pb::LOGIN_STATUS_LOCKED);
      *state.mutable_retry_after() = ToProtoDuration(*locked_for);
    } else {
      state.set_status(pb::LOGIN_STATUS_IN_PROGRESS);
    }
  }
  if (!step.has_value()) step = record.last_step;
  if (step.has_value()) {
    pb::StepResult* result = state.mutable_last_step();
    result->set_method(step->method);
    result->set_outcome(step->outcome);
    result->set_attempts_left(step->attempts_left);
  }
  if (record.otp.has_value()) {
    pb::OtpDelivery* delivery = state.mutable_otp_delivery();
    delivery->set_channel(record.otp->channel);
    delivery->set_masked_destination(record.otp->masked_destination);
    *delivery->mutable_resend_after() = ToProtoTime(record.otp->resend_after);
  }
  *state.mutable_expire_time() = ToProtoTime(record.expire_time);
  return state;
}

}  // namespace tally::orchestrator
