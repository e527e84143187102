#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/util/random.h"
#include "tally/common/v1/common.pb.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::orchestrator {

using ::tally::common::v1::AuthMethod;

// A new login id. It carries the directory ("lgn_<random>-<directory id>") because requests
// carry only the login id and the Redis key is tagged by the directory.
std::string NewLoginId(RandomSource& random, absl::string_view directory_id);
// The directory of a login id; INVALID_ARGUMENT when the id is malformed.
absl::StatusOr<std::string> DirectoryOfLoginId(absl::string_view login_id);

// What the login knows about the proven user's means (DESIGN.md §1 rule 7), taken when the user
// is proven so every later offer is filtered without calling the credential service again.
struct UserCaps {
  std::string username;
  bool has_password = false;
  bool has_phone = false;
  bool has_email = false;
  // -1 not asked yet (PASSKEY was disabled or the passkey service was down), 0 no, 1 yes.
  int has_passkey = -1;
  // A confirmed authenticator app; unused recovery codes.
  bool has_totp = false;
  bool has_recovery_codes = false;
};

// The last code sent in this login.
struct OtpState {
  ::tally::otp::v1::Channel channel = ::tally::otp::v1::CHANNEL_UNSPECIFIED;
  // The OTP service's challenge, also for a code sent to nobody (an unknown user, or no
  // destination), which that service refuses to accept.
  std::string challenge_id;
  // Empty until the user is proven, so the answer does not reveal whether the user exists.
  std::string masked_destination;
  absl::Time resend_after = absl::InfinitePast();
};

struct LastStep {
  AuthMethod method = ::tally::common::v1::AUTH_METHOD_UNSPECIFIED;
  ::tally::orchestrator::v1::StepOutcome outcome =
      ::tally::orchestrator::v1::STEP_OUTCOME_UNSPECIFIED;
  int attempts_left = 0;
};

// One login transaction (`{dir}:login:<id>`).
struct LoginRecord {
  std::string login_id;
  std::string directory_id;
  // As typed; empty for passkey-first logins and step-ups.
  std::string username;
  // StartLoginRequest.client_ip as given (checked); empty when none. For the OTP service's
  // per-address send budgets.
  std::string client_ip;
  // Who the lockout counters are kept for: "u:<user id>" for a known user, "n:<lower-cased
  // username>" for an unknown username; empty in a passkey-first login until the passkey names
  // the user.
  std::string subject;
  // The user FindUser returned for the username (empty when unknown). Not trusted for offers
  // until a factor proves it.
  std::string candidate_user_id;
  // The proven user; empty until a factor was accepted.
  std::string user_id;
  std::optional<UserCaps> caps;
  // Step-up: the level asked for (0 in a normal login: the directory's level).
  int step_up_level = 0;
  // StartLoginRequest.min_level as given (0: none): raises the level, never lowers it (rule 4c).
  int min_level = 0;
  // StartLoginRequest.device_token, kept only until it is checked (once, when PASSWORD or
  // PASSKEY is accepted for a known user); never logged, never answered.
  std::string device_token;
  // Step-up: the family of the session stepped up and when it expires (SessionFamily): the new
  // token joins it. Empty in a normal login, whose token starts a family.
  std::string family_id;
  absl::Time family_expire_time;
  // Completed methods and when they were completed (each recorded once).
  std::map<AuthMethod, absl::Time> completed;
  // Step-up: the session's methods that still count, and when they were completed (written once,
  // at creation). A method carried and completed again is in both.
  std::map<AuthMethod, absl::Time> carried;
  // The accepted passkey is synced (backup state): "swk" rather than "hwk" in the token.
  bool passkey_synced = false;
  std::optional<OtpState> otp;
  std::string passkey_challenge_id;
  std::optional<LastStep> last_step;
  // Set once a recovery code was used in this login: the user's unused codes left.
  std::optional<int> recovery_codes_left;
  absl::Time create_time;
  absl::Time expire_time;
  // Set once, by the step that finished the login.
  std::string session_token;
  std::string session_id;
  absl::Time session_expire_time;

  bool finished() const { return !session_id.empty(); }
};

struct LockoutPolicy {
  // Consecutive failures of one method before the first lock (of every method).
  int threshold = 5;
  // Consecutive failures in total (every method) that lock until UnlockUser (NIST SP 800-63B's
  // cap of 100).
  int permanent_threshold = 100;
  absl::Duration first_lock = absl::Minutes(1);
  absl::Duration max_lock = absl::Hours(1);
  // Failures older than this (with no lock running) are forgotten.
  absl::Duration forget_after = absl::Hours(24);
  // A reservation whose outcome never arrives (replica died) stops counting after this.
  absl::Duration reservation_ttl = absl::Seconds(30);
  // What a step refused because every remaining attempt is already being checked answers.
  absl::Duration busy_retry_after = absl::Seconds(1);
};

struct LockOutcome {
  bool locked = false;
  // The subject is locked until UnlockUser; `newly_permanent`: by this failure.
  bool permanent = false;
  bool newly_permanent = false;
  absl::Duration retry_after;
  // Failures of the method left before the subject gets locked.
  int attempts_left = 0;
};

// How long a permanent lock reports (retry_after) and lasts in the stores: in effect forever,
// until UnlockUser.
inline constexpr absl::Duration kPermanentLock = absl::Hours(24 * 365 * 100);
// What a login ended by a lock answers as retry_after once the lock itself has run out: it stays
// LOCKED (a new login may start at once), and a zero would read as "not locked".
inline constexpr absl::Duration kEndedLoginRetryAfter = absl::Seconds(1);
// How long a lock's start is remembered after the failures are cleared (a success, UnlockUser),
// so that the logins it ended stay ended: longer than any login lives.
inline constexpr absl::Duration kLockStartMemory = absl::Hours(24);

// A right factor's reservation given back, written by the same script as the login's update (one
// Redis round trip, not two). In LoginStore::Finish, when that step finishes the login, it also
// ends the subject's consecutive failures: failures are cleared only by a successful login, never
// by one right factor (someone holding one factor must not reset the others' counts).
struct LockoutSuccess {
  std::string subject;
  // The factor's reservation, given back; empty when the check needed none.
  std::string reservation_id;
};

// A change to a login, applied atomically by one script.
struct LoginUpdate {
  // Recorded only when not yet completed: a method counts once even when two steps race.
  std::optional<AuthMethod> complete_method;
  absl::Time completed_at;
  std::optional<std::string> user_id;
  std::optional<std::string> subject;
  std::optional<UserCaps> caps;
  std::optional<OtpState> otp;
  // Empty string clears it.
  std::optional<std::string> passkey_challenge_id;
  std::optional<LastStep> last_step;
  std::optional<bool> passkey_synced;
  // The device token was checked: it is dropped from the login and, when it was the user's
  // (true), TRUSTED_DEVICE is recorded as completed at completed_at.
  std::optional<bool> device_trusted;
  std::optional<int> recovery_codes_left;
  // Settled first, even when the login is gone or finished: the factor was right either way.
  // Its keys are in the login's directory, so the script stays within one Redis Cluster slot.
  std::optional<LockoutSuccess> lockout_success;
};

// What `update` makes of `record` in the store, for a step that must know the result before
// it writes it (LoginStore::Finish with an update). Times as stores keep them: whole
// milliseconds.
void ApplyUpdate(const LoginUpdate& update, LoginRecord& record);

// A wrong factor's failure, counted for its subject by the script that records the rejected
// step in the login (LoginStore::Reject).
struct LockoutFailure {
  std::string subject;
  // The factor's reservation, given back; empty when the check needed none.
  std::string reservation_id;
  absl::Time now;
  LockoutPolicy policy;
  // The factor's own attempts left (an OTP code's), when it has a limit of its own.
  std::optional<int> factor_attempts_left;
  // The factor that failed: failures are counted per method.
  AuthMethod method = ::tally::common::v1::AUTH_METHOD_UNSPECIFIED;
};

// What LoginStore::Reject did.
struct Rejection {
  LockOutcome outcome;
  // What the step answers in last_step.attempts_left: the failures left before the lock (0 when
  // this one locked), or the factor's own attempts when fewer.
  int attempts_left = 0;
  // The login after the update; NOT_FOUND or FAILED_PRECONDITION as Update answers (the failure
  // counts all the same).
  absl::StatusOr<LoginRecord> record;
};

// What LoginStore::UpdateUnlessLocked did.
struct GuardedUpdate {
  // The login after the update; as it is when the subject was locked.
  LoginRecord record;
  // Zero when the update was applied; positive when the subject is locked or a lock ended the
  // login.
  absl::Duration locked_for;
};

struct FinishResult {
  LoginRecord record;
  // False when another step had already finished the login (record holds its session).
  bool won = false;
};

// Every LoginStore's answers for a login that is unknown or expired (NOT_FOUND), and for a
// change to one that has finished (FAILED_PRECONDITION).
absl::Status LoginNotFoundError();
absl::Status LoginFinishedError();

// Login transactions. Every read-modify-write is one atomic step.
class LoginStore {
 public:
  virtual ~LoginStore() = default;

  // Stores a new login; it disappears after `ttl`. Answers how long the login's subject is
  // still locked at its create_time (zero when not locked, or when it has no subject yet): a
  // new login's lock check, read in the same round trip (LockoutStore::LockedFor).
  //
  // A lock ends every login of its subject created before it (at or before the lock's start):
  // the steps of such a login answer LOCKED for the rest of its life (UpdateUnlessLocked,
  // LockoutStore::Reserve and LockedFor given the login's create_time), even once the lock has
  // run out (then for kEndedLoginRetryAfter).
  virtual absl::StatusOr<absl::Duration> Create(const LoginRecord& record,
                                                absl::Duration ttl) = 0;
  // NOT_FOUND when unknown or expired (by the store's TTL).
  virtual absl::StatusOr<LoginRecord> Get(absl::string_view login_id) = 0;
  // Applies `update` unless the login has finished: then FAILED_PRECONDITION "login already
  // finished" and nothing changes. NOT_FOUND when unknown or expired. Returns the login after.
  virtual absl::StatusOr<LoginRecord> Update(absl::string_view login_id,
                                             const LoginUpdate& update) = 0;
  // Update, unless `subject`'s lock runs at `now`: then nothing changes and the answer says for
  // how long (LockoutStore::LockedFor, read by the same script: one round trip, not two). An
  // empty subject is never locked (a plain Update). INVALID_ARGUMENT, before any write, when
  // `update` carries a lockout_success.
  absl::StatusOr<GuardedUpdate> UpdateUnlessLocked(absl::string_view login_id,
                                                   const LoginUpdate& update,
                                                   absl::string_view subject, absl::Time now);
  // Counts `failure` against its subject (LockoutStore::RecordFailure) and applies `update` with
  // its last step's attempts_left set to Rejection::attempts_left, in one script.
  // INVALID_ARGUMENT, before any write, unless `update` carries a last_step and no
  // lockout_success and the failure a subject.
  absl::StatusOr<Rejection> Reject(absl::string_view login_id, const LoginUpdate& update,
                                   const LockoutFailure& failure);
  // Stores the session unless one is already stored; exactly one racing step wins. The winner
  // also applies `update` in the same script (the step that completed the login writes its
  // method and its session at once) and, with a lockout success, clears its subject's failures
  // (a temporary lock with them; a permanent lock stays until UnlockUser); a loser's update is
  // dropped, except its reservation given back.
  virtual absl::StatusOr<FinishResult> Finish(absl::string_view login_id,
                                              absl::string_view token,
                                              absl::string_view session_id,
                                              absl::Time session_expire_time,
                                              const LoginUpdate& update) = 0;
  // RememberDevice's claim on a finished login: true for the first call only (one device per
  // login, so a login id seen later mints no device); FAILED_PRECONDITION unfinished, NOT_FOUND
  // unknown or expired.
  virtual absl::StatusOr<bool> ClaimDeviceRemembering(absl::string_view login_id) = 0;

 protected:
  // UpdateUnlessLocked and Reject once the checks above have passed (and the subject is set).
  virtual absl::StatusOr<GuardedUpdate> GuardedUpdateChecked(absl::string_view login_id,
                                                             const LoginUpdate& update,
                                                             absl::string_view subject,
                                                             absl::Time now) = 0;
  virtual absl::StatusOr<Rejection> RejectChecked(absl::string_view login_id,
                                                  const LoginUpdate& update,
                                                  const LockoutFailure& failure) = 0;
};

struct Reservation {
  bool granted = false;
  std::string id;
  // When refused: how long to wait.
  absl::Duration retry_after;
};

// Consecutive-failure lockout per subject (`{dir}:rl:...`), NIST SP 800-63B §5.2.2. Failures
// are counted per method and in total; any method at the threshold locks the subject for every
// method (escalating), the total at permanent_threshold locks it until Unlock. Only a successful
// login (LoginStore::Finish with a lockout success) or Unlock clears them.
class LockoutStore {
 public:
  virtual ~LockoutStore() = default;

  // Consecutive failures of one method before the first lock.
  virtual int threshold() const = 0;
  virtual const LockoutPolicy& policy() const = 0;

  // Reserves one check of a factor, or refuses it (locked, the login ended by a lock, or as
  // many checks in flight as failures left for the method with the most failures and in total):
  // parallel requests never get more checks than any limit. `login_created`: the create_time of
  // the login the check is for (a login created at or before the subject's latest lock is ended);
  // InfiniteFuture for none.
  virtual absl::StatusOr<Reservation> Reserve(absl::string_view directory_id,
                                              absl::string_view subject, absl::Time now,
                                              absl::Time login_created) = 0;
  absl::StatusOr<Reservation> Reserve(absl::string_view directory_id, absl::string_view subject,
                                      absl::Time now) {
    return Reserve(directory_id, subject, now, absl::InfiniteFuture());
  }
  // Records a reserved check of `method` that failed. `reservation_id` may be empty (a check
  // that needed no reservation). A login step's outcome travels with its login's update
  // instead, in the same script: LoginStore::Finish ends the failures, LoginStore::Reject
  // counts one.
  virtual absl::StatusOr<LockOutcome> RecordFailure(absl::string_view directory_id,
                                                    absl::string_view subject, AuthMethod method,
                                                    absl::string_view reservation_id,
                                                    absl::Time now) = 0;
  // Gives a reservation back without an outcome (the check could not run).
  virtual absl::Status Cancel(absl::string_view directory_id, absl::string_view subject,
                              absl::string_view reservation_id) = 0;
  // Zero when not locked. `login_created` as in Reserve: an ended login stays locked (at least
  // kEndedLoginRetryAfter).
  virtual absl::StatusOr<absl::Duration> LockedFor(absl::string_view directory_id,
                                                   absl::string_view subject, absl::Time now,
                                                   absl::Time login_created) = 0;
  absl::StatusOr<absl::Duration> LockedFor(absl::string_view directory_id,
                                           absl::string_view subject, absl::Time now) {
    return LockedFor(directory_id, subject, now, absl::InfiniteFuture());
  }
  // Failures left before a lock (for attempts_left in answers): the fewest of any method's and
  // of the total's.
  virtual absl::StatusOr<int> AttemptsLeft(absl::string_view directory_id,
                                           absl::string_view subject) = 0;
  // Clears the subject's failures and locks, the permanent one too (UnlockUser). Answers whether
  // a permanent lock was cleared. Logins the lock ended stay ended.
  virtual absl::StatusOr<bool> Unlock(absl::string_view directory_id,
                                      absl::string_view subject) = 0;
};

// StartLogin's rate limits (issue 20): unauthenticated callers must not fill Redis with logins
// nor, through them, the credential service's hash queue. Fixed one-minute windows; 0 = no limit.
struct StartLimits {
  int per_client_per_minute = 60;
  int per_directory_per_minute = 3000;
};
inline constexpr absl::Duration kStartLimitWindow = absl::Minutes(1);

// The counters of StartLimits (`{dir}:rl:start:...`, one Redis slot per directory).
class StartLimiter {
 public:
  virtual ~StartLimiter() = default;

  // Counts one StartLogin in `directory_id` from `client_key` (ClientAddressKey of the request's
  // client_ip; empty: no per-address limit) at `now`, unless a limit is reached: then nothing is
  // counted and the answer is how long until the window ends. Zero when counted.
  virtual absl::StatusOr<absl::Duration> Acquire(absl::string_view directory_id,
                                                 absl::string_view client_key, absl::Time now) = 0;
};

// What an ended login answers: the subject's lock left, at least kEndedLoginRetryAfter.
absl::Duration EndedLoginLockedFor(absl::Duration subject_locked_for);

}  // namespace tally::orchestrator
