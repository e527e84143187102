#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/login_metrics.h"
#include "services/orchestrator/login_store.h"
#include "services/orchestrator/otp_factor.h"
#include "services/orchestrator/passkey_factor.h"
#include "services/orchestrator/password_factor.h"
#include "services/orchestrator/peers.h"
#include "services/orchestrator/recovery_code_factor.h"
#include "services/orchestrator/session_manager.h"
#include "services/orchestrator/step_up.h"
#include "services/orchestrator/totp_factor.h"
#include "services/orchestrator/trusted_devices.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// The login transactions of DESIGN.md §4 and issue 6: points from the directory's current
// settings at every step, offers filtered by what the proven user can use, lockout, sessions and
// step-up. Free of gRPC: peers, stores, clock and randomness are injected. This class is the
// LoginService's entry points: it starts logins and hands each step to its factor
// (PasswordFactor, OtpFactor, PasskeyFactor, TotpFactor,
// RecoveryCodeFactor) or to StepUp, all built on LoginCore, timing each
// for the metrics.
//
// Unknown usernames: a login for one proceeds exactly like one for a known user (same offers,
// same answers): passwords are still checked by the credential service (which burns a dummy
// hash), codes are sent to nobody by the OTP service with its own cooldown, caps and attempts, a
// passkey ceremony is discoverable until the user is proven (so its options never list a user's
// credentials), destinations are masked out until then, and failures lock the username like a
// user.
class LoginManager {
 public:
  LoginManager(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
               CredentialPeer& credentials, OtpPeer& otp, PasskeyPeer& passkeys,
               SessionManager& sessions, const Clock& clock, RandomSource& random,
               LoginConfig config, LoginMetrics* metrics, StartLimiter* start_limiter = nullptr);
  LoginManager(const LoginManager&) = delete;
  LoginManager& operator=(const LoginManager&) = delete;

  // `deadline`: the caller's (absl::InfiniteFuture() when none); every peer call honours it.
  absl::StatusOr<pb::StartLoginResponse> StartLogin(const pb::StartLoginRequest& request,
                                                    absl::Time deadline);
  absl::StatusOr<pb::SubmitPasswordResponse> SubmitPassword(
      const pb::SubmitPasswordRequest& request, absl::Time deadline);
  absl::StatusOr<pb::SendOtpResponse> SendOtp(const pb::SendOtpRequest& request,
                                              absl::Time deadline);
  absl::StatusOr<pb::VerifyOtpResponse> VerifyOtp(const pb::VerifyOtpRequest& request,
                                                  absl::Time deadline);
  absl::StatusOr<pb::StartPasskeyResponse> StartPasskey(const pb::StartPasskeyRequest& request,
                                                        absl::Time deadline);
  absl::StatusOr<pb::FinishPasskeyResponse> FinishPasskey(const pb::FinishPasskeyRequest& request,
                                                          absl::Time deadline);
  absl::StatusOr<pb::SubmitTotpResponse> SubmitTotp(const pb::SubmitTotpRequest& request,
                                                    absl::Time deadline);
  absl::StatusOr<pb::SubmitRecoveryCodeResponse> SubmitRecoveryCode(
      const pb::SubmitRecoveryCodeRequest& request, absl::Time deadline);
  absl::StatusOr<pb::GetLoginResponse> GetLogin(const pb::GetLoginRequest& request,
                                                absl::Time deadline);
  absl::StatusOr<pb::StartStepUpResponse> StartStepUp(const pb::StartStepUpRequest& request,
                                                      absl::Time deadline);
  absl::StatusOr<pb::RememberDeviceResponse> RememberDevice(
      const pb::RememberDeviceRequest& request, absl::Time deadline);

 private:
  absl::StatusOr<pb::LoginState> Start(const pb::StartLoginRequest& request, absl::Time deadline);
  absl::StatusOr<pb::LoginState> Get(const pb::GetLoginRequest& request, absl::Time deadline);
  // Counts and times a step (begun at `started`), then wraps its state in the RPC's response.
  template <typename Response>
  absl::StatusOr<Response> Respond(absl::string_view step, absl::Time started,
                                   absl::StatusOr<pb::LoginState> state);

  LoginCore core_;
  PasswordFactor password_;
  OtpFactor otp_;
  PasskeyFactor passkey_;
  TotpFactor totp_;
  RecoveryCodeFactor recovery_code_;
  DeviceFactor device_;
  StepUp step_up_;
  LoginMetrics* const metrics_;
  // StartLogin's rate limits; null: none (tests of other things).
  StartLimiter* const start_limiter_;
};

}  // namespace tally::orchestrator
