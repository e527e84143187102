#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/orchestrator/login_metrics.h"
#include "services/orchestrator/login_store.h"
#include "services/orchestrator/peers.h"
#include "services/orchestrator/session_manager.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

namespace pb = ::tally::orchestrator::v1;

struct LoginConfig {
  // How long a login transaction lives.
  absl::Duration login_ttl = absl::Minutes(10);
  // For codes "sent" to nobody (unknown user, no destination): the OTP service's cooldown,
  // sends per destination and hour, and attempts per code, so such logins answer like real ones.
  absl::Duration otp_cooldown = absl::Seconds(30);
  int otp_destination_hourly_cap = 5;
  int otp_max_attempts = 5;
};

// The login transactions of DESIGN.md §4 and issue 6: points from the directory's current
// settings at every step, offers filtered by what the proven user can use, lockout, sessions and
// step-up. Free of gRPC: peers, stores, clock and randomness are injected.
//
// Unknown usernames: a login for one proceeds exactly like one for a known user (same offers,
// same answers): passwords are still checked by the credential service (which burns a dummy
// hash), codes are "sent" to nobody with the same cooldown and hourly cap, a passkey ceremony is discoverable
// until the user is proven (so its options never list a user's credentials), destinations are
// masked out until then, and failures lock the username like a user.
//
// Whether a user has a passkey: PasskeyService.ListPasskeys is not a cluster call, so the login
// asks StartAuthentication for the user once, when the user is proven and PASSKEY is enabled;
// FAILED_PRECONDITION ("the user has no passkey") means not usable. The answer is kept in the
// login. If the passkey service is down then, PASSKEY is not offered for that step and asked
// again at the next one.
//
// Step-up: each of the session's methods counts as completed when it was completed (the
// token's "amr_time") at most max_age_seconds ago; the others must be done again.
class LoginManager {
 public:
  LoginManager(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
               CredentialPeer& credentials, OtpPeer& otp, PasskeyPeer& passkeys,
               SessionManager& sessions, const Clock& clock, RandomSource& random,
               LoginConfig config, LoginMetrics* metrics);

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
  absl::StatusOr<pb::FinishPasskeyResponse> FinishPasskey(
      const pb::FinishPasskeyRequest& request, absl::Time deadline);
  absl::StatusOr<pb::GetLoginResponse> GetLogin(const pb::GetLoginRequest& request,
                                                absl::Time deadline);
  absl::StatusOr<pb::StartStepUpResponse> StartStepUp(const pb::StartStepUpRequest& request,
                                                      absl::Time deadline);

 private:
  absl::StatusOr<pb::LoginState> StartLoginImpl(const pb::StartLoginRequest& request,
                                                absl::Time deadline);
  absl::StatusOr<pb::LoginState> SubmitPasswordImpl(const pb::SubmitPasswordRequest& request,
                                                    absl::Time deadline);
  absl::StatusOr<pb::LoginState> SendOtpImpl(const pb::SendOtpRequest& request,
                                             absl::Time deadline);
  absl::StatusOr<pb::LoginState> VerifyOtpImpl(const pb::VerifyOtpRequest& request,
                                               absl::Time deadline);
  absl::StatusOr<pb::LoginState> StartPasskeyImpl(const pb::StartPasskeyRequest& request,
                                                  absl::Time deadline, std::string& options);
  absl::StatusOr<pb::LoginState> FinishPasskeyImpl(const pb::FinishPasskeyRequest& request,
                                                   absl::Time deadline);
  absl::StatusOr<pb::LoginState> StartStepUpImpl(const pb::StartStepUpRequest& request,
                                                 absl::Time deadline);

  // Loads a login for a step: NOT_FOUND unknown or expired, FAILED_PRECONDITION finished.
  absl::StatusOr<LoginRecord> LoadOpen(absl::string_view login_id);
  absl::StatusOr<LoginRecord> Load(absl::string_view login_id);
  // The methods the login offers now (current settings, filtered by the user's means).
  absl::StatusOr<std::vector<::tally::common::v1::MethodPoints>> Offers(
      LoginRecord& record, const ::tally::policy::v1::AuthSettings& settings,
      absl::Time deadline);
  absl::Status RequireOffered(LoginRecord& record,
                              const ::tally::policy::v1::AuthSettings& settings,
                              AuthMethod method, absl::Time deadline);
  // The user's means, once proven; asks the passkey service when PASSKEY is enabled, unless
  // the user just used one (`passkey_used`) or nothing will be offered (`login_complete`: the
  // answer stays unknown, and Offers asks if the login goes on after all).
  absl::StatusOr<UserCaps> CapsFor(const ::tally::credential::v1::User& user,
                                   const ::tally::policy::v1::AuthSettings& settings,
                                   absl::Time deadline, bool passkey_used = false,
                                   bool login_complete = false);
  // After an accepted factor: records the method (once) with `update`, proves the user, resets
  // the lockout, all in one write; when the method reaches the level, that write is the
  // session's (IssueSession). `user`: the user as this step already read it (VerifyPassword
  // returns it); when empty and needed it is read here and left in `user` for Finalize.
  absl::StatusOr<LoginRecord> Accept(const LoginRecord& record, AuthMethod method,
                                     absl::string_view user_id, absl::string_view reservation,
                                     LoginUpdate update,
                                     const ::tally::policy::v1::AuthSettings& settings,
                                     absl::Time deadline, std::optional<LastStep>& step,
                                     std::optional<::tally::credential::v1::User>& user);
  // After a rejected factor: counts the failure and stores the step with `update`.
  absl::StatusOr<LoginRecord> Reject(const LoginRecord& record, AuthMethod method,
                                     absl::string_view reservation,
                                     std::optional<int> factor_attempts_left, LoginUpdate update,
                                     std::optional<absl::Duration>& locked_for,
                                     std::optional<LastStep>& step);
  // Issues a session for `record` (complete at `level`) and stores it with `update` unless a
  // racing step finished first; returns the login as stored, with the winner's session.
  absl::StatusOr<LoginRecord> IssueSession(
      const LoginRecord& record, int level, absl::Time deadline,
      const std::optional<::tally::credential::v1::User>& known_user, const LoginUpdate& update);
  // Issues the session when the score reaches the level (exactly once, never while locked), and
  // builds the state. `step`: this call's own factor result, which the answer reports even
  // when a racing step stored another one. `user`: the user as this very step read it (its
  // roles go into the token), so that a step reads the user once.
  absl::StatusOr<pb::LoginState> Finalize(
      LoginRecord record, const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
      std::optional<absl::Duration> locked_for, std::optional<LastStep> step = std::nullopt,
      const std::optional<::tally::credential::v1::User>& user = std::nullopt);
  absl::StatusOr<absl::Duration> LockedFor(const LoginRecord& record);

  LoginStore& logins_;
  LockoutStore& lockout_;
  PolicyPeer& policy_;
  CredentialPeer& credentials_;
  OtpPeer& otp_;
  PasskeyPeer& passkeys_;
  SessionManager& sessions_;
  const Clock& clock_;
  RandomSource& random_;
  const LoginConfig config_;
  LoginMetrics* const metrics_;
};

}  // namespace tally::orchestrator
