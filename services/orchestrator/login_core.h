#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

class Factor;

struct LoginConfig {
  // How long a login transaction lives.
  absl::Duration login_ttl = absl::Minutes(10);
};

// Who the lockout counts for: a known user ("u:<user id>") or an unknown username ("n:<lower-cased
// username>", counted and locked like a user so that probing usernames gains nothing).
std::string UserSubject(absl::string_view user_id);
std::string UnknownUsernameSubject(absl::string_view username);

// Request checks every step shares (INVALID_ARGUMENT).
absl::Status CheckLoginId(absl::string_view login_id);
// Present, at most `max_bytes`, UTF-8.
absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_bytes);

// The deadline of a reserved factor check (password, code, passkey): only the peer's own
// timeout, never the caller's. A caller whose deadline ends while the verifier is checking would
// otherwise make us give the reservation back uncounted although the verifier did check, so
// short deadlines would buy unlimited uncounted guesses (issue 9, brute force). The check is
// awaited and its outcome recorded even when nobody is left to read the answer.
inline constexpr absl::Time kReservedCheckDeadline = absl::InfiniteFuture();

// A lock as Finalize takes it: LOGIN_STATUS_LOCKED when `locked_for` is positive.
inline std::optional<absl::Duration> LockedOrNot(absl::Duration locked_for) {
  if (locked_for > absl::ZeroDuration()) return locked_for;
  return std::nullopt;
}

// A factor's step once opened: the login (not finished) and its directory's current settings.
struct OpenStep {
  LoginRecord record;
  ::tally::policy::v1::AuthSettings settings;
};

// A factor's check as its step leaves it, for LoginCore::Finalize.
struct CheckedStep {
  // The login as stored after the step (with the winner's session when a racing step won).
  LoginRecord record;
  // This step's own result, which the answer reports even when a racing step stored another.
  std::optional<LastStep> step;
  // Set when this step's failure locked the subject.
  std::optional<absl::Duration> locked_for;
  // The user as this step read it (its roles go into the token), so that a step reads it once.
  std::optional<::tally::credential::v1::User> user;
};

// What every step of a login shares, whatever its factor (DESIGN.md §1, §4): the login as stored,
// the directory's current settings, the offers filtered by the proven user's means (asked of the
// registered factors), the lockout around a check, and completion: Accept or Reject a factor,
// issue the session exactly once, and build the answer. The factors' steps (PasswordFactor,
// OtpFactor, PasskeyFactor) and the starts (LoginManager, StepUp) are built on it.
class LoginCore {
 public:
  LoginCore(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
            CredentialPeer& credentials, SessionManager& sessions, const Clock& clock,
            RandomSource& random, LoginConfig config, LoginMetrics* metrics);

  // A factor whose methods may be offered; asked in the order added.
  void AddFactor(Factor& factor);

  LoginStore& logins() { return logins_; }
  LockoutStore& lockout() { return lockout_; }
  PolicyPeer& policy() { return policy_; }
  CredentialPeer& credentials() { return credentials_; }
  SessionManager& sessions() { return sessions_; }
  const Clock& clock() const { return clock_; }

  // A login of `directory_id` with a new id, created now, expiring after the login TTL.
  LoginRecord NewLogin(absl::string_view directory_id);
  // Stores a new login and answers its first state (LOCKED while its subject is locked).
  absl::StatusOr<pb::LoginState> Create(LoginRecord record,
                                        const ::tally::policy::v1::AuthSettings& settings,
                                        absl::Time deadline);

  // Loads a login: NOT_FOUND unknown or expired (by the store's TTL or the injected clock).
  absl::StatusOr<LoginRecord> Load(absl::string_view login_id);
  // Load for a step: FAILED_PRECONDITION finished, too.
  absl::StatusOr<LoginRecord> LoadOpen(absl::string_view login_id);
  // Opens a factor's step: loads the open login, asks `method_of` which method the step is for
  // (or for the step's own precondition's error), reads the directory's settings and requires
  // the method to be offered now.
  absl::StatusOr<OpenStep> Open(
      absl::string_view login_id, absl::Time deadline,
      absl::FunctionRef<absl::StatusOr<AuthMethod>(const LoginRecord&)> method_of);
  absl::StatusOr<OpenStep> Open(absl::string_view login_id, AuthMethod method, absl::Time deadline);
  // How long the login's subject is still locked (zero when it has none).
  absl::StatusOr<absl::Duration> LockedFor(const LoginRecord& record);
  // Reserves a check of a factor for the login's subject (LockoutStore::Reserve, now).
  absl::StatusOr<Reservation> Reserve(const LoginRecord& record);

  // The methods the login offers now (current settings, filtered by the user's means).
  absl::StatusOr<std::vector<::tally::common::v1::MethodPoints>> Offers(
      LoginRecord& record, const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline);
  // FAILED_PRECONDITION unless `method` is offered now.
  absl::Status RequireOffered(LoginRecord& record,
                              const ::tally::policy::v1::AuthSettings& settings, AuthMethod method,
                              absl::Time deadline);
  // The user's means, once proven, as the factors see them. `accepted`: the method that just
  // proved the user; `login_complete`: nothing will be offered (costly questions wait).
  UserCaps CapsFor(const ::tally::credential::v1::User& user,
                   const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                   AuthMethod accepted = ::tally::common::v1::AUTH_METHOD_UNSPECIFIED,
                   bool login_complete = false);

  // After an accepted factor: records the method (once) with `update`, proves the user, resets
  // the lockout, all in one write; when the method reaches the level, that write is the
  // session's. `user`: the user as this step already read it (VerifyPassword returns it); when
  // empty and needed it is read here.
  absl::StatusOr<CheckedStep> Accept(const LoginRecord& record, AuthMethod method,
                                     absl::string_view user_id, absl::string_view reservation,
                                     LoginUpdate update,
                                     const ::tally::policy::v1::AuthSettings& settings,
                                     absl::Time deadline,
                                     std::optional<::tally::credential::v1::User> user = {});
  // After a rejected factor: counts the failure and stores the step with `update`.
  absl::StatusOr<CheckedStep> Reject(const LoginRecord& record, AuthMethod method,
                                     absl::string_view reservation,
                                     std::optional<int> factor_attempts_left, LoginUpdate update);

  // Issues the session when the score reaches the level (exactly once, never while locked, a
  // step-up only after a method completed in it), and builds the state. The state carries the
  // session's token only when this step finished the login (an accepted step, or this call
  // issuing).
  absl::StatusOr<pb::LoginState> Finalize(LoginRecord record,
                                          const ::tally::policy::v1::AuthSettings& settings,
                                          absl::Time deadline,
                                          std::optional<absl::Duration> locked_for);
  absl::StatusOr<pb::LoginState> Finalize(absl::StatusOr<CheckedStep> checked,
                                          const ::tally::policy::v1::AuthSettings& settings,
                                          absl::Time deadline);
  // The state of the login as stored, for GetLogin: never issues a session and never carries
  // its token (anyone holding a login id may ask).
  absl::StatusOr<pb::LoginState> Describe(LoginRecord record,
                                          const ::tally::policy::v1::AuthSettings& settings,
                                          absl::Time deadline,
                                          std::optional<absl::Duration> locked_for);

 private:
  absl::StatusOr<pb::LoginState> Finalize(
      LoginRecord record, const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
      std::optional<absl::Duration> locked_for, std::optional<LastStep> step,
      const std::optional<::tally::credential::v1::User>& known_user, bool may_issue);
  // Issues a session for `record` (complete at `level`) and stores it with `update` unless a
  // racing step finished first; returns the login as stored, with the winner's session.
  absl::StatusOr<LoginRecord> IssueSession(
      const LoginRecord& record, int level, absl::Time deadline,
      const std::optional<::tally::credential::v1::User>& known_user, const LoginUpdate& update);
  // `after`, or the login as stored when a racing step finished it meanwhile.
  absl::StatusOr<LoginRecord> UnlessFinished(const LoginRecord& record,
                                             absl::StatusOr<LoginRecord> after);
  // The factor that completes `method`; null when none is registered.
  Factor* FactorFor(AuthMethod method) const;

  LoginStore& logins_;
  LockoutStore& lockout_;
  PolicyPeer& policy_;
  CredentialPeer& credentials_;
  SessionManager& sessions_;
  const Clock& clock_;
  RandomSource& random_;
  const LoginConfig config_;
  LoginMetrics* const metrics_;
  std::vector<Factor*> factors_;
};

}  // namespace tally::orchestrator
