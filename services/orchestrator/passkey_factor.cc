#include "services/orchestrator/passkey_factor.h"

#include <optional>
#include <utility>

#include "common/logging/logging.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
namespace pkpb = ::tally::passkey::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

constexpr size_t kMaxPasskeyResponseBytes = 64 * 1024;

}  // namespace

PasskeyFactor::PasskeyFactor(LoginCore& core, PasskeyPeer& passkeys)
    : core_(core), passkeys_(passkeys) {}

bool PasskeyFactor::Completes(AuthMethod method) const {
  return method == cpb::AUTH_METHOD_PASSKEY;
}

void PasskeyFactor::LearnCaps(const User& user, const AuthSettings& settings, absl::Time deadline,
                              bool accepted, bool login_complete, UserCaps& caps) {
  if (accepted) {
    caps.has_passkey = 1;  // it was just accepted: no need to ask
    return;
  }
  if (login_complete || policy::PointsFor(settings, cpb::AUTH_METHOD_PASSKEY) <= 0) return;
  absl::StatusOr<pkpb::StartAuthenticationResponse> probe =
      passkeys_.StartAuthentication(user.directory_id(), user.user_id(), deadline);
  if (probe.ok()) {
    caps.has_passkey = 1;
  } else if (absl::IsFailedPrecondition(probe.status())) {
    caps.has_passkey = 0;
  } else {
    GetLogger("login")->warn("cannot tell whether user {} has a passkey: {}", user.user_id(),
                             probe.status());
  }
}

bool PasskeyFactor::Usable(AuthMethod, LoginRecord& record, absl::Time deadline) {
  UserCaps caps = record.caps.value_or(UserCaps{});
  if (caps.has_passkey < 0) {
    // PASSKEY was disabled or the passkey service down when the user was proven.
    absl::StatusOr<pkpb::StartAuthenticationResponse> probe =
        passkeys_.StartAuthentication(record.directory_id, record.user_id, deadline);
    if (probe.ok() || absl::IsFailedPrecondition(probe.status())) {
      caps.has_passkey = probe.ok() ? 1 : 0;
      record.caps = caps;
      LoginUpdate update;
      update.caps = caps;
      (void)core_.logins().Update(record.login_id, update);  // a cache: losing it costs a call
    }
  }
  return caps.has_passkey == 1;
}

absl::StatusOr<pb::LoginState> PasskeyFactor::Start(const pb::StartPasskeyRequest& request,
                                                    absl::Time deadline, std::string& options) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  absl::StatusOr<OpenStep> step =
      core_.Open(request.login_id(), cpb::AUTH_METHOD_PASSKEY, deadline);
  if (!step.ok()) return step.status();
  const LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  // Until the user is proven the ceremony is discoverable, whether or not the username exists:
  // options listing the user's credentials would reveal the user.
  absl::StatusOr<pkpb::StartAuthenticationResponse> started =
      passkeys_.StartAuthentication(record.directory_id, record.user_id, deadline);
  if (!started.ok()) return started.status();
  LoginUpdate update;
  update.passkey_challenge_id = started->challenge_id();
  // The subject's lock is read by the script that stores the challenge (one round trip, not
  // two): a locked login keeps no challenge, answers LOCKED without options, and the challenge
  // drawn expires unused in the passkey service.
  absl::StatusOr<GuardedUpdate> after = core_.logins().UpdateUnlessLocked(
      record.login_id, update, record.subject, core_.clock().Now());
  if (!after.ok()) return after.status();
  if (after->locked_for > absl::ZeroDuration()) {
    return core_.Finalize(std::move(after->record), settings, deadline, after->locked_for);
  }
  options = started->request_options_json();
  return core_.Finalize(std::move(after->record), settings, deadline, std::nullopt);
}

absl::StatusOr<pb::LoginState> PasskeyFactor::Finish(const pb::FinishPasskeyRequest& request,
                                                     absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("authentication_response_json",
                                 request.authentication_response_json(), kMaxPasskeyResponseBytes);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<OpenStep> step = core_.Open(
      request.login_id(), deadline, [](const LoginRecord& record) -> absl::StatusOr<AuthMethod> {
        if (record.passkey_challenge_id.empty()) {
          return absl::FailedPreconditionError("no passkey ceremony was started in this login");
        }
        return cpb::AUTH_METHOD_PASSKEY;
      });
  if (!step.ok()) return step.status();
  LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  // A passkey-first login has no subject yet: the passkey names the user only on success.
  std::string reservation_id;
  if (!record.subject.empty()) {
    absl::StatusOr<Reservation> reservation = core_.Reserve(record);
    if (!reservation.ok()) return reservation.status();
    if (!reservation->granted) {
      return core_.Finalize(std::move(record), settings, deadline, reservation->retry_after);
    }
    reservation_id = reservation->id;
  }
  absl::StatusOr<pkpb::FinishAuthenticationResponse> result = passkeys_.FinishAuthentication(
      record.directory_id, record.passkey_challenge_id, request.authentication_response_json(),
      kReservedCheckDeadline);
  LoginUpdate base;
  base.passkey_challenge_id = "";  // consumed either way
  if (result.ok()) {
    const bool passkey_first = record.username.empty() && record.user_id.empty();
    const std::string expected = passkey_first            ? result->user_id()
                                 : record.user_id.empty() ? record.candidate_user_id
                                                          : record.user_id;
    if (passkey_first) {
      // The user is known only now: a locked user stays locked, even with a passkey.
      LoginRecord named = record;
      named.subject = UserSubject(expected);
      absl::StatusOr<absl::Duration> locked = core_.LockedFor(named);
      if (!locked.ok()) return locked.status();
      if (*locked > absl::ZeroDuration()) {
        absl::StatusOr<LoginRecord> cleared = core_.logins().Update(record.login_id, base);
        if (!cleared.ok()) return cleared.status();
        return core_.Finalize(*std::move(cleared), settings, deadline, *locked);
      }
    }
    // A touch without user verification (a stolen security key, no PIN) never completes
    // PASSKEY, whatever the passkey service accepts (--user_verification): a failed step.
    if (!expected.empty() && result->user_id() == expected && result->user_verified()) {
      base.passkey_synced = result->backup_state();
      return core_.Finalize(core_.Accept(record, cpb::AUTH_METHOD_PASSKEY, expected, reservation_id,
                                         base, settings, deadline),
                            settings, deadline);
    }
    if (passkey_first && !expected.empty() && !result->user_verified()) {
      // The passkey named its user: the failure counts for that user, as a wrong password would.
      LoginRecord named = record;
      named.subject = UserSubject(expected);
      return core_.Finalize(
          core_.Reject(named, cpb::AUTH_METHOD_PASSKEY, reservation_id, std::nullopt, base),
          settings, deadline);
    }
  } else if (!absl::IsNotFound(result.status()) && !absl::IsUnauthenticated(result.status()) &&
             // The passkey service's answers for a used or expired challenge (a replay) and
             // for a malformed response: a failed factor like any other.
             !absl::IsFailedPrecondition(result.status()) &&
             !absl::IsInvalidArgument(result.status())) {
    if (!reservation_id.empty()) {
      (void)core_.lockout().Cancel(record.directory_id, record.subject, reservation_id);
    }
    return result.status();
  }
  return core_.Finalize(
      core_.Reject(record, cpb::AUTH_METHOD_PASSKEY, reservation_id, std::nullopt, base), settings,
      deadline);
}

}  // namespace tally::orchestrator
