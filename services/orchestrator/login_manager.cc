#include "services/orchestrator/login_manager.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/error_reasons.h"
#include "common/util/client_address.h"
#include "common/util/text.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

constexpr size_t kMaxUsernameBytes = 256;

// Labels a step's result for the metrics.
std::string Outcome(const absl::StatusOr<pb::LoginState>& state) {
  if (!state.ok()) return absl::StatusCodeToString(state.status().code());
  switch (state->status()) {
    case pb::LOGIN_STATUS_SUCCEEDED: return "succeeded";
    case pb::LOGIN_STATUS_LOCKED: return "locked";
    default: break;
  }
  if (state->has_last_step() && state->last_step().outcome() == pb::STEP_OUTCOME_REJECTED) {
    return "rejected";
  }
  return "in_progress";
}

}  // namespace

LoginManager::LoginManager(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
                           CredentialPeer& credentials, OtpPeer& otp, PasskeyPeer& passkeys,
                           SessionManager& sessions, const Clock& clock, RandomSource& random,
                           LoginConfig config, LoginMetrics* metrics, StartLimiter* start_limiter)
    : core_(logins, lockout, policy, credentials, sessions, clock, random, config, metrics),
      password_(core_),
      otp_(core_, otp),
      passkey_(core_, passkeys),
      totp_(core_),
      recovery_code_(core_, otp),
      device_(core_, otp),
      step_up_(core_),
      metrics_(metrics),
      start_limiter_(start_limiter) {
  // The order in which a proven user's means are learnt.
  core_.AddFactor(password_);
  core_.AddFactor(otp_);
  core_.AddFactor(passkey_);
  core_.AddFactor(totp_);
  core_.AddFactor(recovery_code_);
  core_.AddFactor(device_);
}

template <typename Response>
absl::StatusOr<Response> LoginManager::Respond(absl::string_view step, absl::Time started,
                                               absl::StatusOr<pb::LoginState> state) {
  if (metrics_ != nullptr) {
    metrics_->Step(step, Outcome(state), absl::ToDoubleSeconds(absl::Now() - started));
  }
  if (!state.ok()) return state.status();
  Response response;
  *response.mutable_state() = *std::move(state);
  return response;
}

absl::StatusOr<pb::StartLoginResponse> LoginManager::StartLogin(
    const pb::StartLoginRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::StartLoginResponse>("start_login", started, Start(request, deadline));
}

absl::StatusOr<pb::SubmitPasswordResponse> LoginManager::SubmitPassword(
    const pb::SubmitPasswordRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SubmitPasswordResponse>("submit_password", started,
                                             password_.Submit(request, deadline));
}

absl::StatusOr<pb::SendOtpResponse> LoginManager::SendOtp(const pb::SendOtpRequest& request,
                                                          absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SendOtpResponse>("send_otp", started, otp_.Send(request, deadline));
}

absl::StatusOr<pb::VerifyOtpResponse> LoginManager::VerifyOtp(const pb::VerifyOtpRequest& request,
                                                              absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::VerifyOtpResponse>("verify_otp", started, otp_.Verify(request, deadline));
}

absl::StatusOr<pb::StartPasskeyResponse> LoginManager::StartPasskey(
    const pb::StartPasskeyRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  std::string options;
  absl::StatusOr<pb::LoginState> state = passkey_.Start(request, deadline, options);
  absl::StatusOr<pb::StartPasskeyResponse> response =
      Respond<pb::StartPasskeyResponse>("start_passkey", started, std::move(state));
  if (response.ok()) response->set_request_options_json(std::move(options));
  return response;
}

absl::StatusOr<pb::FinishPasskeyResponse> LoginManager::FinishPasskey(
    const pb::FinishPasskeyRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::FinishPasskeyResponse>("finish_passkey", started,
                                            passkey_.Finish(request, deadline));
}

absl::StatusOr<pb::SubmitTotpResponse> LoginManager::SubmitTotp(
    const pb::SubmitTotpRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SubmitTotpResponse>("submit_totp", started, totp_.Submit(request, deadline));
}

absl::StatusOr<pb::SubmitRecoveryCodeResponse> LoginManager::SubmitRecoveryCode(
    const pb::SubmitRecoveryCodeRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::SubmitRecoveryCodeResponse>("submit_recovery_code", started,
                                                 recovery_code_.Submit(request, deadline));
}

absl::StatusOr<pb::GetLoginResponse> LoginManager::GetLogin(const pb::GetLoginRequest& request,
                                                            absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::GetLoginResponse>("get_login", started, Get(request, deadline));
}

absl::StatusOr<pb::StartStepUpResponse> LoginManager::StartStepUp(
    const pb::StartStepUpRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  return Respond<pb::StartStepUpResponse>("start_step_up", started,
                                          step_up_.Start(request, deadline));
}

absl::StatusOr<pb::RememberDeviceResponse> LoginManager::RememberDevice(
    const pb::RememberDeviceRequest& request, absl::Time deadline) {
  const absl::Time started = absl::Now();
  absl::StatusOr<pb::RememberDeviceResponse> response = device_.Remember(request, deadline);
  if (metrics_ != nullptr) {
    metrics_->Step("remember_device",
                   response.ok() ? "ok" : absl::StatusCodeToString(response.status().code()),
                   absl::ToDoubleSeconds(absl::Now() - started));
  }
  return response;
}

absl::StatusOr<pb::LoginState> LoginManager::Start(const pb::StartLoginRequest& request,
                                                   absl::Time deadline) {
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  const std::string& username = request.username();
  if (!username.empty()) {
    if (absl::Status s = CheckText("username", username, kMaxUsernameBytes); !s.ok()) return s;
    if (HasControlCharacters(username)) {
      return absl::InvalidArgumentError("username must not contain control characters");
    }
  }
  if (request.min_level() < 0) return absl::InvalidArgumentError("min_level must not be negative");
  absl::StatusOr<std::string> client_key = ClientAddressKey(request.client_ip());
  if (!client_key.ok()) return client_key.status();
  absl::StatusOr<AuthSettings> settings =
      core_.policy().GetAuthSettings(request.directory_id(), deadline);
  if (!settings.ok()) return settings.status();
  // Rule 4c: a level no login of this directory can reach is refused up front (rule 4's sum).
  if (const int max_score = policy::MaxScore(*settings); request.min_level() > max_score) {
    return absl::FailedPreconditionError(
        absl::StrCat("min_level ", request.min_level(),
                     " is above the highest score this directory's methods reach (", max_score,
                     ")"));
  }
  // Counted once the directory is known to exist, so unknown ids create no counters.
  if (start_limiter_ != nullptr) {
    absl::StatusOr<absl::Duration> wait =
        start_limiter_->Acquire(request.directory_id(), *client_key, core_.clock().Now());
    if (!wait.ok()) return wait.status();
    if (*wait > absl::ZeroDuration()) {
      return WithRetryInfo(
          WithErrorInfo(absl::ResourceExhaustedError("too many logins started; retry later"),
                        reasons::kLoginRateLimited),
          *wait);
    }
  }

  LoginRecord record = core_.NewLogin(request.directory_id());
  record.username = username;
  record.client_ip = request.client_ip();
  record.min_level = request.min_level();
  // Kept until a password or passkey is accepted (DeviceFactor); a longer one is not a token.
  if (request.device_token().size() <= kMaxDeviceTokenBytes) {
    record.device_token = request.device_token();
  }
  if (!username.empty()) {
    absl::StatusOr<User> user =
        core_.credentials().FindUser(request.directory_id(), username, deadline);
    if (user.ok()) {
      record.candidate_user_id = user->user_id();
      record.subject = UserSubject(user->user_id());
    } else if (absl::IsNotFound(user.status())) {
      // Counted and locked like a user, so probing usernames gains nothing.
      record.subject = UnknownUsernameSubject(username);
    } else {
      return user.status();
    }
  }
  return core_.Create(std::move(record), *settings, deadline);
}

absl::StatusOr<pb::LoginState> LoginManager::Get(const pb::GetLoginRequest& request,
                                                 absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  absl::StatusOr<LoginRecord> record = core_.Load(request.login_id());
  if (!record.ok()) return record.status();
  absl::StatusOr<AuthSettings> settings =
      core_.policy().GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<absl::Duration> locked = core_.LockedFor(*record);
  if (!locked.ok()) return locked.status();
  return core_.Describe(*std::move(record), *settings, deadline, LockedOrNot(*locked));
}

}  // namespace tally::orchestrator
