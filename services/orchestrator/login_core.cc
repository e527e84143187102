#include "services/orchestrator/login_core.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging/logging.h"
#include "common/util/deadline.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "common/util/username.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/step_up.h"
#include "services/policy/points.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("login");
  return logger;
}

// The methods completed in this login (not those a step-up carries): what is no longer offered.
std::vector<AuthMethod> CompletedList(const LoginRecord& record) {
  std::vector<AuthMethod> methods;
  for (AuthMethod method : policy::KnownMethods()) {
    if (record.completed.contains(method)) methods.push_back(method);
  }
  return methods;
}

// "password", "sms_otp", ...: the method's name without its prefix, for the metrics.
std::string MethodLabel(AuthMethod method) {
  constexpr absl::string_view kPrefix = "AUTH_METHOD_";
  absl::string_view name = cpb::AuthMethod_Name(method);
  if (absl::StartsWith(name, kPrefix)) name.remove_prefix(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace

std::string UserSubject(absl::string_view user_id) { return absl::StrCat("u:", user_id); }

std::string UnknownUsernameSubject(absl::string_view username) {
  // The credential service's own key for the username, so that every spelling that names one
  // user ("bob", "Bob", "bob ") shares one lock, as it would if bob existed.
  const std::string_view typed(username.data(), username.size());
  absl::StatusOr<Username> checked = CheckUsername(typed);
  return absl::StrCat("n:", checked.ok() ? checked->key : UsernameKey(typed));
}

absl::Status CheckLoginId(absl::string_view login_id) {
  if (login_id.empty()) return absl::InvalidArgumentError("login_id is required");
  return absl::OkStatus();
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

LoginCore::LoginCore(LoginStore& logins, LockoutStore& lockout, PolicyPeer& policy,
                     CredentialPeer& credentials, SessionManager& sessions, const Clock& clock,
                     RandomSource& random, LoginConfig config, LoginMetrics* metrics)
    : logins_(logins),
      lockout_(lockout),
      policy_(policy),
      credentials_(credentials),
      sessions_(sessions),
      clock_(clock),
      random_(random),
      config_(config),
      metrics_(metrics) {}

void LoginCore::AddFactor(Factor& factor) { factors_.push_back(&factor); }

Factor* LoginCore::FactorFor(AuthMethod method) const {
  for (Factor* factor : factors_) {
    if (factor->Completes(method)) return factor;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Logins as stored

LoginRecord LoginCore::NewLogin(absl::string_view directory_id) {
  const absl::Time now = clock_.Now();
  LoginRecord record;
  record.login_id = NewLoginId(random_, directory_id);
  record.directory_id = std::string(directory_id);
  record.create_time = now;
  record.expire_time = now + config_.login_ttl;
  return record;
}

absl::StatusOr<pb::LoginState> LoginCore::Create(LoginRecord record, const AuthSettings& settings,
                                                 absl::Time deadline) {
  absl::StatusOr<absl::Duration> locked = logins_.Create(record, config_.login_ttl);
  if (!locked.ok()) return locked.status();
  return Finalize(std::move(record), settings, deadline, LockedOrNot(*locked));
}

absl::StatusOr<LoginRecord> LoginCore::Load(absl::string_view login_id) {
  absl::StatusOr<LoginRecord> record = logins_.Get(login_id);
  if (!record.ok()) return record.status();
  // The store expires logins on its own clock; the injected clock decides too, so both agree.
  if (clock_.Now() >= record->expire_time) return LoginNotFoundError();
  return record;
}

absl::StatusOr<LoginRecord> LoginCore::LoadOpen(absl::string_view login_id) {
  absl::StatusOr<LoginRecord> record = Load(login_id);
  if (!record.ok()) return record.status();
  if (record->finished()) return LoginFinishedError();
  return record;
}

absl::StatusOr<OpenStep> LoginCore::Open(
    absl::string_view login_id, absl::Time deadline,
    absl::FunctionRef<absl::StatusOr<AuthMethod>(const LoginRecord&)> method_of) {
  absl::StatusOr<LoginRecord> record = LoadOpen(login_id);
  if (!record.ok()) return record.status();
  absl::StatusOr<AuthMethod> method = method_of(*record);
  if (!method.ok()) return method.status();
  absl::StatusOr<AuthSettings> settings = policy_.GetAuthSettings(record->directory_id, deadline);
  if (!settings.ok()) return settings.status();
  if (absl::Status s = RequireOffered(*record, *settings, *method, deadline); !s.ok()) return s;
  return OpenStep{*std::move(record), *std::move(settings)};
}

absl::StatusOr<OpenStep> LoginCore::Open(absl::string_view login_id, AuthMethod method,
                                         absl::Time deadline) {
  return Open(login_id, deadline,
              [method](const LoginRecord&) -> absl::StatusOr<AuthMethod> { return method; });
}

absl::StatusOr<absl::Duration> LoginCore::LockedFor(const LoginRecord& record) {
  if (record.subject.empty()) return absl::ZeroDuration();
  return lockout_.LockedFor(record.directory_id, record.subject, clock_.Now(), record.create_time);
}

absl::StatusOr<Reservation> LoginCore::Reserve(const LoginRecord& record) {
  return lockout_.Reserve(record.directory_id, record.subject, clock_.Now(), record.create_time);
}

// ---------------------------------------------------------------------------------------------
// Offers

UserCaps LoginCore::CapsFor(const User& user, const AuthSettings& settings, absl::Time deadline,
                            AuthMethod accepted, bool login_complete) {
  UserCaps caps;
  caps.username = user.username();
  for (Factor* factor : factors_) {
    factor->LearnCaps(user, settings, deadline, factor->Completes(accepted), login_complete, caps);
  }
  return caps;
}

absl::StatusOr<std::vector<cpb::MethodPoints>> LoginCore::Offers(LoginRecord& record,
                                                                 const AuthSettings& settings,
                                                                 absl::Time deadline) {
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, CompletedList(record));
  if (!eval.ok()) return eval.status();
  std::vector<cpb::MethodPoints> offers;
  for (const cpb::MethodPoints& offer : eval->offered) {
    Factor* factor = FactorFor(offer.method());
    if (factor == nullptr) continue;
    if (record.user_id.empty()) {
      // Not proven: the directory alone decides (a passkey-first login can only use a factor
      // that names the user).
      if (!record.username.empty() || factor->IdentifiesUser()) offers.push_back(offer);
    } else if (factor->Usable(offer.method(), record, deadline)) {
      offers.push_back(offer);
    }
  }
  return offers;
}

absl::Status LoginCore::RequireOffered(LoginRecord& record, const AuthSettings& settings,
                                       AuthMethod method, absl::Time deadline) {
  absl::StatusOr<std::vector<cpb::MethodPoints>> offers = Offers(record, settings, deadline);
  if (!offers.ok()) return offers.status();
  for (const cpb::MethodPoints& offer : *offers) {
    if (offer.method() == method) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat(cpb::AuthMethod_Name(method), " is not offered in this login"));
}

// ---------------------------------------------------------------------------------------------
// Completion

absl::StatusOr<CheckedStep> LoginCore::Accept(const LoginRecord& record, AuthMethod method,
                                              absl::string_view user_id,
                                              absl::string_view reservation, LoginUpdate update,
                                              const AuthSettings& settings, absl::Time deadline,
                                              std::optional<User> user) {
  const std::string subject = record.subject.empty() ? UserSubject(user_id) : record.subject;
  // The factor was right: its reservation goes back in the same write as the login; the
  // failures end only if this write finishes the login (LoginStore::Finish).
  update.lockout_success = LockoutSuccess{subject, std::string(reservation)};
  update.complete_method = method;
  update.completed_at = clock_.Now();
  update.last_step = LastStep{method, pb::STEP_OUTCOME_ACCEPTED, 0};
  CheckedStep checked;
  checked.step = update.last_step;
  for (Factor* factor : factors_) {
    factor->AlongWith(record, method, record.user_id.empty() ? user_id : record.user_id,
                      settings, deadline, update);
  }
  // The methods as this write leaves them (the accepted one, and any completed alongside it).
  LoginRecord updated = record;
  ApplyUpdate(update, updated);
  const std::vector<AuthMethod> completed = CountedMethods(updated);
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, completed);
  if (!eval.ok()) return eval.status();
  // A method completed here: a step-up may finish now too.
  const bool completes = eval->score >= RequiredLevel(record, eval->required_level);
  if (record.user_id.empty()) {
    if (!user.has_value() || user->user_id() != user_id) {
      absl::StatusOr<User> read = credentials_.GetUser(user_id, deadline);
      if (!read.ok()) return read.status();
      user = *std::move(read);
    }
    // A step that reaches the level finishes the login: no offers follow, so questions only the
    // offers need (the passkey probe: a passkey-service call, a PostgreSQL read and a challenge
    // written to Redis) would be wasted on every single-factor login.
    update.user_id = std::string(user_id);
    update.caps = CapsFor(*user, settings, deadline, method, completes);
    if (record.subject.empty()) update.subject = subject;
  }
  checked.user = std::move(user);
  if (completes) {
    // The session is issued from the login as this update leaves it, and stored with it.
    LoginRecord completed_record = record;
    ApplyUpdate(update, completed_record);
    absl::StatusOr<LoginRecord> finished =
        IssueSession(completed_record, eval->score, deadline, checked.user, update);
    if (!finished.ok()) return finished.status();
    checked.record = *std::move(finished);
    return checked;
  }
  absl::StatusOr<LoginRecord> after =
      UnlessFinished(record, logins_.Update(record.login_id, update));
  if (!after.ok()) return after.status();
  checked.record = *std::move(after);
  return checked;
}

absl::StatusOr<CheckedStep> LoginCore::Reject(const LoginRecord& record, AuthMethod method,
                                              absl::string_view reservation,
                                              std::optional<int> factor_attempts_left,
                                              LoginUpdate update) {
  // The check happened: its failure is recorded even when the caller's deadline has passed
  // meanwhile (an attacker's short deadlines must not buy uncounted guesses).
  ScopedDeadlineLift must_record;
  CheckedStep checked;
  absl::StatusOr<LoginRecord> after;
  if (record.subject.empty()) {
    // Nobody to count the failure for (a passkey-first login whose assertion named nobody).
    int left = lockout_.threshold();
    if (factor_attempts_left.has_value()) left = std::min(left, *factor_attempts_left);
    update.last_step = LastStep{method, pb::STEP_OUTCOME_REJECTED, std::max(0, left)};
    checked.step = update.last_step;
    after = logins_.Update(record.login_id, update);
  } else {
    // The failure is counted by the script that records the step: one round trip, not two.
    update.last_step = LastStep{method, pb::STEP_OUTCOME_REJECTED, 0};  // the store fills it in
    LockoutFailure failure;
    failure.subject = record.subject;
    failure.method = method;
    failure.reservation_id = std::string(reservation);
    failure.now = clock_.Now();
    failure.policy = lockout_.policy();
    failure.factor_attempts_left = factor_attempts_left;
    absl::StatusOr<Rejection> rejection = logins_.Reject(record.login_id, update, failure);
    if (!rejection.ok()) return rejection.status();
    if (rejection->outcome.locked) {
      checked.locked_for = rejection->outcome.retry_after;
      if (metrics_ != nullptr) metrics_->Locked();
      if (rejection->outcome.newly_permanent) {
        if (metrics_ != nullptr) metrics_->PermanentLock("locked");
        // An unknown username is not logged: it may be a password typed in the wrong field.
        Log()->warn("{} in directory {} is locked until UnlockUser after {} consecutive failures",
                    absl::StartsWith(record.subject, "u:") ? record.subject : "an unknown username",
                    record.directory_id, lockout_.policy().permanent_threshold);
      }
    }
    checked.step = LastStep{method, pb::STEP_OUTCOME_REJECTED, rejection->attempts_left};
    after = std::move(rejection->record);
  }
  after = UnlessFinished(record, std::move(after));
  if (!after.ok()) return after.status();
  checked.record = *std::move(after);
  return checked;
}

absl::StatusOr<LoginRecord> LoginCore::UnlessFinished(const LoginRecord& record,
                                                      absl::StatusOr<LoginRecord> after) {
  // Another step finished the login meanwhile: answer with its state.
  if (absl::IsFailedPrecondition(after.status())) return logins_.Get(record.login_id);
  return after;
}

absl::StatusOr<LoginRecord> LoginCore::IssueSession(const LoginRecord& record, int level,
                                                    absl::Time deadline,
                                                    const std::optional<User>& known_user,
                                                    const LoginUpdate& update) {
  absl::StatusOr<User> user = known_user.has_value() && known_user->user_id() == record.user_id
                                  ? absl::StatusOr<User>(*known_user)
                                  : credentials_.GetUser(record.user_id, deadline);
  if (!user.ok()) return user.status();
  const std::vector<AuthMethod> completed = CountedMethods(record);
  SessionRequest session;
  session.user_id = record.user_id;
  session.directory_id = record.directory_id;
  session.roles.assign(user->roles().begin(), user->roles().end());
  session.methods = completed;
  session.level = level;
  session.passkey_synced = record.passkey_synced;
  session.method_times = CountedMethodTimes(record);
  if (!record.family_id.empty()) {
    session.family = SessionFamily{record.family_id, record.family_expire_time};
  }
  session.auth_time = absl::InfinitePast();
  for (const auto& [method, at] : session.method_times) {
    session.auth_time = std::max(session.auth_time, at);
  }
  absl::StatusOr<IssuedSession> issued = sessions_.Issue(session);
  if (!issued.ok()) return issued.status();
  // A successful login clears its subject's failures, whichever step finished it.
  LoginUpdate finish = update;
  if (!finish.lockout_success.has_value() && !record.subject.empty()) {
    finish.lockout_success = LockoutSuccess{record.subject, ""};
  }
  absl::StatusOr<FinishResult> finished = logins_.Finish(
      record.login_id, issued->token, issued->session_id, issued->expires_at, finish);
  if (!finished.ok()) return finished.status();
  if (finished->won) {
    if (metrics_ != nullptr) {
      std::vector<std::string> labels;
      for (AuthMethod method : completed) labels.push_back(MethodLabel(method));
      metrics_->LoginFinished("succeeded", absl::StrJoin(labels, "+"));
    }
    // Not the login id: whoever holds it could read the login (GetLogin).
    Log()->info("login succeeded for user {} in directory {} (level {}{})", record.user_id,
                record.directory_id, level, IsStepUp(record) ? ", step-up" : "");
  }
  // The loser's token was never handed out; the winner's session is everyone's answer.
  return std::move(finished->record);
}

absl::StatusOr<pb::LoginState> LoginCore::Finalize(LoginRecord record, const AuthSettings& settings,
                                                   absl::Time deadline,
                                                   std::optional<absl::Duration> locked_for) {
  return Finalize(std::move(record), settings, deadline, locked_for, std::nullopt, std::nullopt,
                  /*may_issue=*/true);
}

absl::StatusOr<pb::LoginState> LoginCore::Describe(LoginRecord record,
                                                   const AuthSettings& settings,
                                                   absl::Time deadline,
                                                   std::optional<absl::Duration> locked_for) {
  return Finalize(std::move(record), settings, deadline, locked_for, std::nullopt, std::nullopt,
                  /*may_issue=*/false);
}

absl::StatusOr<pb::LoginState> LoginCore::Finalize(absl::StatusOr<CheckedStep> checked,
                                                   const AuthSettings& settings,
                                                   absl::Time deadline) {
  if (!checked.ok()) return checked.status();
  return Finalize(std::move(checked->record), settings, deadline, checked->locked_for,
                  checked->step, checked->user, /*may_issue=*/true);
}

absl::StatusOr<pb::LoginState> LoginCore::Finalize(LoginRecord record, const AuthSettings& settings,
                                                   absl::Time deadline,
                                                   std::optional<absl::Duration> locked_for,
                                                   std::optional<LastStep> step,
                                                   const std::optional<User>& known_user,
                                                   bool may_issue) {
  absl::StatusOr<policy::Evaluation> eval = policy::Evaluate(settings, CountedMethods(record));
  if (!eval.ok()) return eval.status();
  const int required = RequiredLevel(record, eval->required_level);

  // The session's token goes only to the step that finished the login (racing final steps all
  // get the one issued): an accepted step, or this call when it issues (the settings were
  // lowered). Never to GetLogin, nor to a step that merely found the login finished.
  bool carries_token = step.has_value() && step->outcome == pb::STEP_OUTCOME_ACCEPTED;
  if (may_issue && !record.finished() && !record.user_id.empty() && !locked_for.has_value() &&
      MayFinish(record) && eval->score >= required) {
    absl::StatusOr<LoginRecord> finished =
        IssueSession(record, eval->score, deadline, known_user, LoginUpdate{});
    if (!finished.ok()) return finished.status();
    record = *std::move(finished);
    carries_token = true;
  }

  pb::LoginState state;
  state.set_login_id(record.login_id);
  state.set_directory_id(record.directory_id);
  // Recomputed from the stored login (a racing step may have added a method).
  const std::vector<AuthMethod> final_completed = CountedMethods(record);
  absl::StatusOr<policy::Evaluation> final_eval = policy::Evaluate(settings, final_completed);
  if (!final_eval.ok()) return final_eval.status();
  state.set_score(final_eval->score);
  state.set_required_level(required);
  for (AuthMethod method : final_completed) state.add_completed_methods(method);
  if (record.finished()) {
    state.set_status(pb::LOGIN_STATUS_SUCCEEDED);
    pb::Session* session = state.mutable_session();
    if (carries_token) session->set_token(record.session_token);
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
  if (record.recovery_codes_left.has_value()) {
    state.set_recovery_codes_left(*record.recovery_codes_left);
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
