#include "services/orchestrator/testing/login_store_contract.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/test_support.h"
#include "common/util/random.h"
#include "gmock/gmock.h"

namespace tally::orchestrator::testing {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;
using ::tally::common::v1::AuthMethod;
namespace pb = ::tally::orchestrator::v1;

}  // namespace

void LoginStoreContract::SetUp() {
  dir_ = "dir_" + tally::testing::UniqueSuffix();
  backend_ = GetParam()(now_);
  ASSERT_NE(backend_, nullptr);
}

LoginRecord LoginStoreContract::NewRecord() {
  LoginRecord r;
  r.login_id = NewLoginId(CsprngRandom::Get(), dir_);
  r.directory_id = dir_;
  r.username = "alice";
  r.subject = "u:usr_1";
  r.candidate_user_id = "usr_1";
  r.create_time = now_;
  r.expire_time = now_ + absl::Minutes(10);
  return r;
}

namespace {

TEST_P(LoginStoreContract, CreateGetAndUpdateRoundTrip) {
  LoginRecord r = NewRecord();
  r.step_up_level = 40;
  r.family_id = "ses_original";
  r.family_expire_time = now_ + absl::Hours(7);
  r.completed[AUTH_METHOD_PASSWORD] = now_;
  r.carried[AUTH_METHOD_PASSWORD] = now_ - absl::Minutes(3);
  r.carried[AUTH_METHOD_SMS_OTP] = now_ - absl::Minutes(2);
  r.client_ip = "2001:db8::7";
  r.min_level = 55;
  r.device_token = "dvt_opaque";
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  absl::StatusOr<LoginRecord> got = logins().Get(r.login_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->client_ip, "2001:db8::7");
  EXPECT_EQ(got->directory_id, dir_);
  EXPECT_EQ(got->username, "alice");
  EXPECT_EQ(got->subject, "u:usr_1");
  EXPECT_EQ(got->candidate_user_id, "usr_1");
  EXPECT_TRUE(got->user_id.empty());
  EXPECT_EQ(got->step_up_level, 40);
  EXPECT_EQ(got->min_level, 55);
  EXPECT_EQ(got->device_token, "dvt_opaque");
  EXPECT_EQ(got->family_id, "ses_original");
  EXPECT_EQ(got->family_expire_time, now_ + absl::Hours(7));
  EXPECT_EQ(got->completed.at(AUTH_METHOD_PASSWORD), now_);
  EXPECT_EQ(got->completed.size(), 1u);
  EXPECT_EQ(got->carried.at(AUTH_METHOD_PASSWORD), now_ - absl::Minutes(3));
  EXPECT_EQ(got->carried.at(AUTH_METHOD_SMS_OTP), now_ - absl::Minutes(2));
  EXPECT_EQ(got->expire_time, now_ + absl::Minutes(10));
  EXPECT_FALSE(got->otp.has_value());
  EXPECT_FALSE(got->recovery_codes_left.has_value());
  EXPECT_FALSE(got->finished());

  LoginUpdate u;
  u.user_id = "usr_1";
  u.caps = UserCaps{"alice", true, true, false, 0,
                    /*has_totp=*/true, /*has_recovery_codes=*/false};
  u.recovery_codes_left = 0;
  u.otp = OtpState{::tally::otp::v1::CHANNEL_SMS, "otp_0", "", now_ + absl::Seconds(30)};
  u.passkey_challenge_id = "wa_1";
  u.last_step = LastStep{AUTH_METHOD_PASSWORD, ::tally::orchestrator::v1::STEP_OUTCOME_REJECTED, 3};
  absl::StatusOr<LoginRecord> after = logins().Update(r.login_id, u);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->user_id, "usr_1");
  ASSERT_TRUE(after->caps.has_value());
  EXPECT_EQ(after->caps->username, "alice");
  EXPECT_TRUE(after->caps->has_password);
  EXPECT_TRUE(after->caps->has_phone);
  EXPECT_FALSE(after->caps->has_email);
  EXPECT_EQ(after->caps->has_passkey, 0);
  EXPECT_TRUE(after->caps->has_totp);
  EXPECT_FALSE(after->caps->has_recovery_codes);
  EXPECT_EQ(after->recovery_codes_left, 0);
  ASSERT_TRUE(after->otp.has_value());
  EXPECT_EQ(after->otp->channel, ::tally::otp::v1::CHANNEL_SMS);
  EXPECT_EQ(after->otp->challenge_id, "otp_0");
  EXPECT_TRUE(after->otp->masked_destination.empty());
  EXPECT_EQ(after->otp->resend_after, now_ + absl::Seconds(30));
  EXPECT_EQ(after->passkey_challenge_id, "wa_1");
  ASSERT_TRUE(after->last_step.has_value());
  EXPECT_EQ(after->last_step->attempts_left, 3);

  // Clearing a field removes it.
  LoginUpdate clear;
  clear.passkey_challenge_id = "";
  after = logins().Update(r.login_id, clear);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->passkey_challenge_id.empty());
  EXPECT_EQ(after->otp->challenge_id, "otp_0");

  // A new code replaces the last one.
  LoginUpdate real;
  real.otp = OtpState{::tally::otp::v1::CHANNEL_EMAIL, "otp_1", "a***@example.com", now_};
  after = logins().Update(r.login_id, real);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->otp->challenge_id, "otp_1");
  EXPECT_EQ(after->otp->masked_destination, "a***@example.com");

  // A checked device token is dropped; a trusted one records TRUSTED_DEVICE.
  LoginUpdate untrusted;
  untrusted.device_trusted = false;
  after = logins().Update(r.login_id, untrusted);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->device_token.empty());
  EXPECT_FALSE(after->completed.contains(AUTH_METHOD_TRUSTED_DEVICE));
  EXPECT_EQ(after->min_level, 55);
  LoginUpdate trusted;
  trusted.device_trusted = true;
  trusted.completed_at = now_ + absl::Seconds(5);
  after = logins().Update(r.login_id, trusted);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->completed.at(AUTH_METHOD_TRUSTED_DEVICE), now_ + absl::Seconds(5));
  EXPECT_EQ(logins().Get(r.login_id)->completed.at(AUTH_METHOD_TRUSTED_DEVICE),
            now_ + absl::Seconds(5));
}

TEST_P(LoginStoreContract, ADeviceIsRememberedOncePerFinishedLogin) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  EXPECT_EQ(logins().ClaimDeviceRemembering(r.login_id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(logins().Finish(r.login_id, "tok", "ses_1", now_ + absl::Hours(1), {}).ok());
  EXPECT_EQ(logins().ClaimDeviceRemembering(r.login_id).value_or(false), true);
  EXPECT_EQ(logins().ClaimDeviceRemembering(r.login_id).value_or(true), false);
  EXPECT_EQ(logins().ClaimDeviceRemembering(NewRecord().login_id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(LoginStoreContract, UnknownLoginsAreNotFoundAndTheTtlIsSet) {
  const std::string id = NewLoginId(CsprngRandom::Get(), dir_);
  EXPECT_TRUE(absl::IsNotFound(logins().Get(id).status()));
  EXPECT_TRUE(absl::IsNotFound(logins().Update(id, LoginUpdate{}).status()));
  EXPECT_TRUE(absl::IsNotFound(logins().Finish(id, "t", "s", now_, LoginUpdate{}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(logins().Get("nonsense").status()));

  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  absl::StatusOr<absl::Duration> ttl = backend().TimeToLive(r.login_id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(*ttl, absl::Minutes(9));
  EXPECT_LE(*ttl, absl::Minutes(10));
  // Updates keep the TTL.
  LoginUpdate prove;
  prove.user_id = "usr_1";
  ASSERT_TRUE(logins().Update(r.login_id, prove).ok());
  ttl = backend().TimeToLive(r.login_id);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(*ttl, absl::ZeroDuration());
}

TEST_P(LoginStoreContract, AMethodIsRecordedOnceEvenWhenStepsRace) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      LoginUpdate u;
      u.complete_method = AUTH_METHOD_SMS_OTP;
      u.completed_at = now_ + absl::Seconds(i);
      if (logins().Update(r.login_id, u).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  absl::StatusOr<LoginRecord> got = logins().Get(r.login_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->completed.size(), 1u);
  // The time of whichever step came first, never overwritten.
  const absl::Time first = got->completed.at(AUTH_METHOD_SMS_OTP);
  LoginUpdate again;
  again.complete_method = AUTH_METHOD_SMS_OTP;
  again.completed_at = now_ + absl::Hours(1);
  EXPECT_EQ(logins().Update(r.login_id, again)->completed.at(AUTH_METHOD_SMS_OTP), first);
}

TEST_P(LoginStoreContract, ALoginFinishesExactlyOnce) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  std::vector<std::thread> threads;
  std::atomic<int> won{0};
  std::vector<std::string> sessions(16);
  // Each racer carries its own step's update: only the winner's is stored.
  auto update_of = [&](int i) {
    LoginUpdate u;
    u.complete_method = i % 2 == 0 ? AUTH_METHOD_PASSWORD : AUTH_METHOD_SMS_OTP;
    u.completed_at = now_ + absl::Seconds(i);
    u.user_id = "usr_1";
    u.last_step = LastStep{*u.complete_method, pb::STEP_OUTCOME_ACCEPTED, i};
    return u;
  };
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<FinishResult> result =
          logins().Finish(r.login_id, absl::StrCat("token-", i), absl::StrCat("ses_", i),
                          now_ + absl::Hours(8), update_of(i));
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->won) ++won;
      sessions[i] = result->record.session_id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  for (const std::string& s : sessions) EXPECT_EQ(s, sessions[0]);
  absl::StatusOr<LoginRecord> got = logins().Get(r.login_id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->finished());
  int winner = -1;
  ASSERT_TRUE(absl::SimpleAtoi(got->session_id.substr(4), &winner));
  EXPECT_EQ(got->session_token, absl::StrCat("token-", winner));
  EXPECT_EQ(got->session_expire_time, now_ + absl::Hours(8));
  // The store holds exactly what ApplyUpdate predicts from the winner's update.
  LoginRecord expected = r;
  ApplyUpdate(update_of(winner), expected);
  EXPECT_EQ(got->completed, expected.completed);
  EXPECT_EQ(got->user_id, "usr_1");
  ASSERT_TRUE(got->last_step.has_value());
  EXPECT_EQ(got->last_step->attempts_left, winner);
  // A finished login takes no more changes.
  LoginUpdate u;
  u.complete_method = AUTH_METHOD_EMAIL_OTP;
  EXPECT_TRUE(absl::IsFailedPrecondition(logins().Update(r.login_id, u).status()));
  EXPECT_FALSE(logins().Get(r.login_id)->completed.contains(AUTH_METHOD_EMAIL_OTP));
}

TEST_P(LoginStoreContract, CreateAnswersTheSubjectsLockInTheSameRoundTrip) {
  LoginRecord r = NewRecord();
  const int64_t before = backend().Operations();
  absl::StatusOr<absl::Duration> locked = logins().Create(r, absl::Minutes(10));
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(*locked, absl::ZeroDuration());
  EXPECT_EQ(backend().Operations() - before, 1);

  // Five failures lock the subject for a minute, as LockedFor sees it.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout().RecordFailure(dir_, r.subject, AUTH_METHOD_PASSWORD, "", now_).ok());
  }
  LoginRecord r2 = NewRecord();
  r2.create_time = now_ + absl::Seconds(20);
  locked = logins().Create(r2, absl::Minutes(10));
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(*locked, absl::Seconds(40));
  EXPECT_EQ(*locked, *lockout().LockedFor(dir_, r.subject, r2.create_time));
  // Once the lock has run out, and for a login with no subject yet, nothing is locked.
  LoginRecord r3 = NewRecord();
  r3.create_time = now_ + absl::Minutes(2);
  EXPECT_EQ(*logins().Create(r3, absl::Minutes(10)), absl::ZeroDuration());
  LoginRecord r4 = NewRecord();
  r4.subject.clear();
  r4.create_time = now_ + absl::Seconds(20);
  EXPECT_EQ(*logins().Create(r4, absl::Minutes(10)), absl::ZeroDuration());
  // An id that exists is never overwritten.
  EXPECT_EQ(logins().Create(r2, absl::Minutes(10)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(LoginStoreContract, AGuardedUpdateReadsTheLockInItsOwnRoundTrip) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  LoginUpdate update;
  update.passkey_challenge_id = "wa_1";

  // Not locked: applied, in one round trip.
  auto count = [&] { return backend().Operations(); };
  const int64_t before = count();
  absl::StatusOr<GuardedUpdate> guarded =
      logins().UpdateUnlessLocked(r.login_id, update, r.subject, now_);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(count() - before, 1);
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_1");
  EXPECT_EQ(logins().Get(r.login_id)->passkey_challenge_id, "wa_1");

  // Locked: nothing changes, and the answer agrees with LockedFor.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout().RecordFailure(dir_, r.subject, AUTH_METHOD_PASSWORD, "", now_).ok());
  }
  update.passkey_challenge_id = "wa_2";
  const absl::Time later = now_ + absl::Seconds(20);
  guarded = logins().UpdateUnlessLocked(r.login_id, update, r.subject, later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::Seconds(40));
  EXPECT_EQ(guarded->locked_for, *lockout().LockedFor(dir_, r.subject, later));
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_1");
  EXPECT_EQ(logins().Get(r.login_id)->passkey_challenge_id, "wa_1");
  // Another subject's lock is not this one's; no subject is never locked.
  guarded = logins().UpdateUnlessLocked(r.login_id, update, "u:usr_2", later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_2");
  update.passkey_challenge_id = "wa_3";
  guarded = logins().UpdateUnlessLocked(r.login_id, update, "", later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_3");
  // Once the lock has run out, a login created before it stays ended (LOCKED); the update
  // applies to a login created after it.
  update.passkey_challenge_id = "wa_4";
  guarded = logins().UpdateUnlessLocked(r.login_id, update, r.subject, now_ + absl::Minutes(1));
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, kEndedLoginRetryAfter);
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_3");
  LoginRecord after_lock = NewRecord();
  after_lock.create_time = now_ + absl::Minutes(1);
  ASSERT_TRUE(logins().Create(after_lock, absl::Minutes(10)).ok());
  guarded =
      logins().UpdateUnlessLocked(after_lock.login_id, update, r.subject, now_ + absl::Minutes(1));
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_4");

  // Unknown and finished logins answer as Update does; a lockout success is refused.
  LoginRecord unknown = NewRecord();
  EXPECT_TRUE(absl::IsNotFound(
      logins().UpdateUnlessLocked(unknown.login_id, update, unknown.subject, now_).status()));
  LoginUpdate success = update;
  success.lockout_success = LockoutSuccess{r.subject, ""};
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins().UpdateUnlessLocked(r.login_id, success, r.subject, now_).status()));
  ASSERT_TRUE(logins().Finish(r.login_id, "tok", "sid_1", now_ + absl::Hours(1), {}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      logins()
          .UpdateUnlessLocked(r.login_id, update, r.subject, now_ + absl::Minutes(1))
          .status()));
}

TEST_P(LoginStoreContract, ARejectionCountsTheFailureInTheLoginsOwnWrite) {
  const std::string subject = "u:usr_1";
  const std::string twin = "u:usr_twin";  // counted by RecordFailure alone, for comparison
  const LockoutPolicy policy = lockout().policy();
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  LoginUpdate rejected;
  rejected.last_step = LastStep{AUTH_METHOD_PASSWORD, pb::STEP_OUTCOME_REJECTED, 0};
  auto count = [&] { return backend().Operations(); };
  auto pending = [&] { return backend().PendingChecks(dir_, subject); };

  for (int i = 1; i <= 5; ++i) {
    absl::StatusOr<Reservation> reservation = lockout().Reserve(dir_, subject, now_);
    ASSERT_TRUE(reservation.ok() && reservation->granted);
    const int64_t before = count();
    absl::StatusOr<Rejection> rejection = logins().Reject(
        r.login_id, rejected, LockoutFailure{subject, reservation->id, now_, policy, {}});
    ASSERT_TRUE(rejection.ok()) << rejection.status();
    EXPECT_EQ(count() - before, 1);
    absl::StatusOr<LockOutcome> alone =
        lockout().RecordFailure(dir_, twin, AUTH_METHOD_PASSWORD, "", now_);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ(rejection->outcome.locked, alone->locked);
    EXPECT_EQ(rejection->outcome.retry_after, alone->retry_after);
    EXPECT_EQ(rejection->outcome.attempts_left, alone->attempts_left);
    EXPECT_EQ(rejection->outcome.attempts_left, 5 - i);
    EXPECT_EQ(rejection->attempts_left, 5 - i);
    EXPECT_EQ(pending(), 0);  // the reservation was given back
    ASSERT_TRUE(rejection->record.ok()) << rejection->record.status();
    ASSERT_TRUE(rejection->record->last_step.has_value());
    EXPECT_EQ(rejection->record->last_step->outcome, pb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(rejection->record->last_step->attempts_left, 5 - i);
    EXPECT_EQ(logins().Get(r.login_id)->last_step->attempts_left, 5 - i);
  }
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now_), absl::Minutes(1));

  // A factor with fewer attempts of its own shows those; the lock doubles as RecordFailure's.
  LoginUpdate code = rejected;
  code.last_step->method = AUTH_METHOD_SMS_OTP;
  const absl::Time later = now_ + absl::Minutes(1);
  absl::StatusOr<Rejection> rejection =
      logins().Reject(r.login_id, code, LockoutFailure{subject, "", later, policy, 2});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  absl::StatusOr<LockOutcome> alone =
      lockout().RecordFailure(dir_, twin, AUTH_METHOD_PASSWORD, "", later);
  EXPECT_TRUE(rejection->outcome.locked);
  EXPECT_EQ(rejection->outcome.retry_after, absl::Minutes(2));
  EXPECT_EQ(rejection->outcome.retry_after, alone->retry_after);
  EXPECT_EQ(rejection->attempts_left, 0);
  EXPECT_EQ(rejection->record->last_step->method, AUTH_METHOD_SMS_OTP);
  EXPECT_EQ(rejection->record->last_step->attempts_left, 0);
  LoginRecord fresh = NewRecord();
  ASSERT_TRUE(logins().Create(fresh, absl::Minutes(10)).ok());
  rejection =
      logins().Reject(fresh.login_id, code, LockoutFailure{"u:usr_other", "", now_, policy, 2});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_EQ(rejection->outcome.attempts_left, 4);
  EXPECT_EQ(rejection->attempts_left, 2);
  EXPECT_EQ(rejection->record->last_step->attempts_left, 2);

  // The failure counts even when the login is gone or finished; the login stays as it was.
  LoginRecord unknown = NewRecord();
  rejection = logins().Reject(unknown.login_id, rejected,
                              LockoutFailure{"u:usr_other", "", now_, policy, {}});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_TRUE(absl::IsNotFound(rejection->record.status()));
  EXPECT_EQ(rejection->outcome.attempts_left, 3);
  ASSERT_TRUE(logins().Finish(fresh.login_id, "tok", "sid_1", now_ + absl::Hours(1), {}).ok());
  rejection = logins().Reject(fresh.login_id, rejected,
                              LockoutFailure{"u:usr_other", "", now_, policy, {}});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(rejection->record.status()));
  EXPECT_EQ(rejection->outcome.attempts_left, 2);
  EXPECT_EQ(logins().Get(fresh.login_id)->last_step->attempts_left, 2);

  // An update without a last step, or with a lockout success, is refused before any write.
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins()
          .Reject(r.login_id, LoginUpdate{}, LockoutFailure{subject, "", now_, policy, {}})
          .status()));
  LoginUpdate success = rejected;
  success.lockout_success = LockoutSuccess{subject, ""};
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins()
          .Reject(r.login_id, success, LockoutFailure{subject, "", now_, policy, {}})
          .status()));
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, "u:usr_other"), 2);
}

TEST_P(LoginStoreContract, OnlyASuccessfulLoginEndsTheFailuresInItsOwnWrite) {
  const std::string subject = "u:usr_1";
  auto fails = [&] { return backend().Failures(dir_, subject); };
  auto pending = [&] { return backend().PendingChecks(dir_, subject); };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, "", now_).ok());
  }
  ASSERT_EQ(fails(), 3);

  // Update: a right factor gives its reservation back in one round trip; the failures stay
  // (one factor must not reset another's count: issue 20).
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  absl::StatusOr<Reservation> reservation = lockout().Reserve(dir_, subject, now_);
  ASSERT_TRUE(reservation.ok() && reservation->granted);
  ASSERT_EQ(pending(), 1);
  LoginUpdate accepted;
  accepted.complete_method = AUTH_METHOD_SMS_OTP;
  accepted.completed_at = now_;
  accepted.lockout_success = LockoutSuccess{subject, reservation->id};
  const int64_t before = backend().Operations();
  absl::StatusOr<LoginRecord> after = logins().Update(r.login_id, accepted);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(backend().Operations() - before, 1);
  EXPECT_TRUE(after->completed.contains(AUTH_METHOD_SMS_OTP));
  EXPECT_EQ(fails(), 3);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 2);

  // Finish: the login succeeded, so its write ends the failures.
  LoginRecord r2 = NewRecord();
  ASSERT_TRUE(logins().Create(r2, absl::Minutes(10)).ok());
  accepted.lockout_success = LockoutSuccess{subject, ""};
  absl::StatusOr<FinishResult> finished =
      logins().Finish(r2.login_id, "token", "ses_1", now_ + absl::Hours(8), accepted);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_TRUE(finished->won);
  EXPECT_TRUE(finished->record.completed.contains(AUTH_METHOD_SMS_OTP));
  EXPECT_EQ(fails(), 0);
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), lockout().threshold());

  // A step that lost the race, or came after the login was gone, finished nothing: the failures
  // since stay.
  ASSERT_TRUE(lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, "", now_).ok());
  finished = logins().Finish(r2.login_id, "token2", "ses_2", now_ + absl::Hours(8), accepted);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_FALSE(finished->won);
  EXPECT_EQ(finished->record.session_id, "ses_1");
  EXPECT_EQ(fails(), 1);
  EXPECT_TRUE(absl::IsNotFound(logins()
                                   .Finish(NewLoginId(CsprngRandom::Get(), dir_), "token3", "ses_3",
                                           now_ + absl::Hours(8), accepted)
                                   .status()));
  EXPECT_EQ(fails(), 1);

  // Without a lockout success the counters are left alone.
  LoginRecord r3 = NewRecord();
  ASSERT_TRUE(logins().Create(r3, absl::Minutes(10)).ok());
  LoginUpdate plain;
  plain.passkey_challenge_id = "ch_1";
  ASSERT_TRUE(logins().Update(r3.login_id, plain).ok());
  EXPECT_EQ(fails(), 1);
  ASSERT_TRUE(logins().Finish(r3.login_id, "token4", "ses_4", now_ + absl::Hours(8), {}).ok());
  EXPECT_EQ(fails(), 1);
}

TEST_P(LoginStoreContract, FailuresAreCountedPerMethodAndAnyMethodAtItsLimitLocksAll) {
  const std::string subject = "u:usr_1";
  // Four of each factor: no lock, whatever the sum.
  for (AuthMethod method : {AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP}) {
    for (int i = 1; i <= 4; ++i) {
      absl::StatusOr<LockOutcome> o = lockout().RecordFailure(dir_, subject, method, "", now_);
      ASSERT_TRUE(o.ok()) << o.status();
      EXPECT_FALSE(o->locked);
      EXPECT_EQ(o->attempts_left, 5 - i);
    }
  }
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now_), absl::ZeroDuration());
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 1);
  // One check at a time: the worst method has one failure left.
  absl::StatusOr<Reservation> r = lockout().Reserve(dir_, subject, now_);
  ASSERT_TRUE(r.ok() && r->granted);
  EXPECT_FALSE(lockout().Reserve(dir_, subject, now_)->granted);
  // The fifth of one method locks the subject, for every method.
  LoginRecord login = NewRecord();
  ASSERT_TRUE(logins().Create(login, absl::Minutes(10)).ok());
  LoginUpdate rejected;
  rejected.last_step = LastStep{AUTH_METHOD_EMAIL_OTP, pb::STEP_OUTCOME_REJECTED, 0};
  LockoutFailure failure{subject, r->id, now_, lockout().policy(), {}};
  failure.method = AUTH_METHOD_EMAIL_OTP;
  absl::StatusOr<Rejection> rejection = logins().Reject(login.login_id, rejected, failure);
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_TRUE(rejection->outcome.locked);
  EXPECT_FALSE(rejection->outcome.permanent);
  EXPECT_EQ(rejection->outcome.retry_after, absl::Minutes(1));
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now_), absl::Minutes(1));
  EXPECT_FALSE(lockout().Reserve(dir_, subject, now_ + absl::Seconds(30))->granted);
  EXPECT_EQ(backend().Failures(dir_, subject), 5);
}

TEST_P(LoginStoreContract, ALockEndsTheLoginsOfItsSubjectCreatedBeforeIt) {
  const std::string subject = "u:usr_1";
  LoginRecord before = NewRecord();
  ASSERT_TRUE(logins().Create(before, absl::Minutes(10)).ok());
  // Not locked yet: nothing is ended.
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now_, before.create_time), absl::ZeroDuration());
  EXPECT_TRUE(lockout().Reserve(dir_, subject, now_, before.create_time)->granted);
  const absl::Time lock_time = now_ + absl::Seconds(10);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, "", lock_time).ok());
  }
  // During the lock: its time left, for every login.
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, lock_time, before.create_time), absl::Minutes(1));
  // After it: the login created before stays LOCKED; one created after goes on.
  const absl::Time later = lock_time + absl::Minutes(2);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, later, before.create_time), kEndedLoginRetryAfter);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, later, later), absl::ZeroDuration());
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, later), absl::ZeroDuration());
  absl::StatusOr<Reservation> r = lockout().Reserve(dir_, subject, later, before.create_time);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->granted);
  EXPECT_EQ(r->retry_after, kEndedLoginRetryAfter);
  EXPECT_TRUE(lockout().Reserve(dir_, subject, later, later)->granted);
  LoginUpdate update;
  update.passkey_challenge_id = "wa_1";
  absl::StatusOr<GuardedUpdate> guarded =
      logins().UpdateUnlessLocked(before.login_id, update, subject, later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, kEndedLoginRetryAfter);
  EXPECT_TRUE(logins().Get(before.login_id)->passkey_challenge_id.empty());

  // A successful login (of another login) clears the failures, never the end of older logins.
  LoginRecord winner = NewRecord();
  winner.create_time = later;
  ASSERT_TRUE(logins().Create(winner, absl::Minutes(10)).ok());
  LoginUpdate success;
  success.lockout_success = LockoutSuccess{subject, ""};
  ASSERT_TRUE(
      logins().Finish(winner.login_id, "tok", "ses_1", later + absl::Hours(1), success).ok());
  EXPECT_EQ(backend().Failures(dir_, subject), 0);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, later, before.create_time), kEndedLoginRetryAfter);
  // So does Unlock.
  ASSERT_TRUE(lockout().Unlock(dir_, subject).ok());
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, later, before.create_time), kEndedLoginRetryAfter);
}

TEST_P(LoginStoreContract, ConsecutiveFailuresInTotalLockUntilUnlock) {
  const std::string subject = "u:usr_1";
  const LockoutPolicy policy = lockout().policy();
  ASSERT_EQ(policy.permanent_threshold, 100);
  // Spread over methods and time so that no single method's lock stands in the way: each
  // failure counts, locked or not.
  const std::vector<AuthMethod> methods = {AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP,
                                           AUTH_METHOD_EMAIL_OTP};
  absl::Time now = now_;
  for (int i = 1; i < policy.permanent_threshold; ++i) {
    absl::StatusOr<LockOutcome> o =
        lockout().RecordFailure(dir_, subject, methods[i % methods.size()], "", now);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_FALSE(o->permanent) << i;
    now += absl::Hours(2);  // every temporary lock has run out
  }
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 1);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now), absl::ZeroDuration());
  absl::StatusOr<LockOutcome> o =
      lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, "", now);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->locked);
  EXPECT_TRUE(o->permanent);
  EXPECT_TRUE(o->newly_permanent);
  EXPECT_EQ(o->retry_after, kPermanentLock);
  o = lockout().RecordFailure(dir_, subject, AUTH_METHOD_SMS_OTP, "", now);
  EXPECT_TRUE(o->permanent);
  EXPECT_FALSE(o->newly_permanent);

  // Locked however long one waits; a new login starts locked; a success does not end it.
  const absl::Time year = now + absl::Hours(24 * 365);
  EXPECT_GT(*lockout().LockedFor(dir_, subject, year), absl::Hours(24 * 365));
  EXPECT_FALSE(lockout().Reserve(dir_, subject, year)->granted);
  LoginRecord login = NewRecord();
  login.create_time = year;
  EXPECT_GT(*logins().Create(login, absl::Minutes(10)), absl::ZeroDuration());
  LoginUpdate success;
  success.lockout_success = LockoutSuccess{subject, ""};
  ASSERT_TRUE(logins().Finish(login.login_id, "tok", "ses_1", year + absl::Hours(1), success).ok());
  EXPECT_GT(*lockout().LockedFor(dir_, subject, year), absl::ZeroDuration());

  // Unlock ends it (and says it was permanent); counting starts over.
  absl::StatusOr<bool> unlocked = lockout().Unlock(dir_, subject);
  ASSERT_TRUE(unlocked.ok()) << unlocked.status();
  EXPECT_TRUE(*unlocked);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, year), absl::ZeroDuration());
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 5);
  EXPECT_TRUE(lockout().Reserve(dir_, subject, year)->granted);
  EXPECT_FALSE(*lockout().Unlock(dir_, subject));
  EXPECT_FALSE(*lockout().Unlock(dir_, "u:usr_nobody"));
}

TEST_P(LoginStoreContract, FiveFailuresLockForAMinuteThenDoublingUpToAnHour) {
  const std::string subject = "u:usr_1";
  absl::Time now = now_;
  for (int i = 1; i <= 4; ++i) {
    absl::StatusOr<Reservation> r = lockout().Reserve(dir_, subject, now);
    ASSERT_TRUE(r.ok() && r->granted);
    absl::StatusOr<LockOutcome> o =
        lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, r->id, now);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_FALSE(o->locked);
    EXPECT_EQ(o->attempts_left, 5 - i);
    EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 5 - i);
  }
  absl::StatusOr<Reservation> r = lockout().Reserve(dir_, subject, now);
  ASSERT_TRUE(r->granted);
  absl::StatusOr<LockOutcome> o =
      lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, r->id, now);
  EXPECT_TRUE(o->locked);
  EXPECT_EQ(o->retry_after, absl::Minutes(1));
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now + absl::Seconds(20)), absl::Seconds(40));

  // While locked nothing is reserved.
  r = lockout().Reserve(dir_, subject, now + absl::Seconds(59));
  EXPECT_FALSE(r->granted);
  EXPECT_EQ(r->retry_after, absl::Seconds(1));

  // Each further failure doubles the lock: 2, 4, 8, 16, 32 minutes, then 1 hour at most.
  const std::vector<absl::Duration> expected = {
      absl::Minutes(2),  absl::Minutes(4), absl::Minutes(8), absl::Minutes(16),
      absl::Minutes(32), absl::Hours(1),   absl::Hours(1)};
  absl::Duration lock = absl::Minutes(1);
  for (absl::Duration want : expected) {
    now += lock;
    EXPECT_EQ(*lockout().LockedFor(dir_, subject, now), absl::ZeroDuration());
    r = lockout().Reserve(dir_, subject, now);
    ASSERT_TRUE(r->granted);
    // Past the threshold one check at a time: each failure locks again.
    EXPECT_FALSE(lockout().Reserve(dir_, subject, now)->granted);
    o = lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, r->id, now);
    EXPECT_TRUE(o->locked);
    EXPECT_EQ(o->retry_after, want);
    lock = want;
  }

  // A successful login (its finishing write) resets everything.
  now += lock;
  r = lockout().Reserve(dir_, subject, now);
  ASSERT_TRUE(r->granted);
  LoginRecord login = NewRecord();
  login.subject = subject;
  login.create_time = now;
  ASSERT_TRUE(logins().Create(login, absl::Minutes(10)).ok());
  LoginUpdate success;
  success.lockout_success = LockoutSuccess{subject, r->id};
  ASSERT_TRUE(logins().Finish(login.login_id, "tok", "ses_1", now + absl::Hours(1), success).ok());
  EXPECT_EQ(*lockout().AttemptsLeft(dir_, subject), 5);
  EXPECT_EQ(*lockout().LockedFor(dir_, subject, now), absl::ZeroDuration());
}

TEST_P(LoginStoreContract, ParallelReservationsNeverExceedTheFailuresLeft) {
  const std::string subject = "n:mallory";
  // Two failures already: three checks may run at once.
  for (int i = 0; i < 2; ++i) {
    auto r = lockout().Reserve(dir_, subject, now_);
    ASSERT_TRUE(lockout().RecordFailure(dir_, subject, AUTH_METHOD_PASSWORD, r->id, now_).ok());
  }
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  std::vector<std::string> ids(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<Reservation> r = lockout().Reserve(dir_, subject, now_);
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->granted) {
        ++granted;
        ids[i] = r->id;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 3);

  // A cancelled reservation frees its slot; one that is never settled expires.
  for (const std::string& id : ids) {
    if (!id.empty()) {
      ASSERT_TRUE(lockout().Cancel(dir_, subject, id).ok());
      break;
    }
  }
  EXPECT_TRUE(lockout().Reserve(dir_, subject, now_)->granted);
  EXPECT_FALSE(lockout().Reserve(dir_, subject, now_)->granted);
  EXPECT_TRUE(lockout().Reserve(dir_, subject, now_ + absl::Seconds(31))->granted);
}

TEST_P(LoginStoreContract, EveryOperationIsOneAtomicStep) {
  // LoginManager's unit tests count a step's store operations on the fake; in Redis each is
  // one round trip, so those counts are the steps' round trips.
  int64_t mark = backend().Operations();
  auto spent = [&] {
    const int64_t n = backend().Operations() - mark;
    mark = backend().Operations();
    return n;
  };
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins().Create(r, absl::Minutes(10)).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(logins().Get(r.login_id).ok());
  EXPECT_EQ(spent(), 1);
  LoginUpdate update;
  update.passkey_challenge_id = "wa_1";
  ASSERT_TRUE(logins().Update(r.login_id, update).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(logins().UpdateUnlessLocked(r.login_id, update, r.subject, now_).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(logins().UpdateUnlessLocked(r.login_id, update, "", now_).ok());
  EXPECT_EQ(spent(), 1);
  absl::StatusOr<Reservation> reservation = lockout().Reserve(dir_, r.subject, now_);
  ASSERT_TRUE(reservation.ok() && reservation->granted);
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(lockout().Cancel(dir_, r.subject, reservation->id).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(lockout().Cancel(dir_, r.subject, "").ok());
  EXPECT_EQ(spent(), 0);  // nothing to give back
  ASSERT_TRUE(lockout().RecordFailure(dir_, r.subject, AUTH_METHOD_PASSWORD, "", now_).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(lockout().LockedFor(dir_, r.subject, now_).ok());
  EXPECT_EQ(spent(), 1);
  ASSERT_TRUE(lockout().AttemptsLeft(dir_, r.subject).ok());
  EXPECT_EQ(spent(), 1);
  LoginUpdate rejected;
  rejected.last_step = LastStep{AUTH_METHOD_PASSWORD, pb::STEP_OUTCOME_REJECTED, 0};
  ASSERT_TRUE(
      logins()
          .Reject(r.login_id, rejected, LockoutFailure{r.subject, "", now_, lockout().policy(), {}})
          .ok());
  EXPECT_EQ(spent(), 1);
  LoginUpdate accepted;
  accepted.complete_method = AUTH_METHOD_PASSWORD;
  accepted.completed_at = now_;
  accepted.lockout_success = LockoutSuccess{r.subject, ""};
  ASSERT_TRUE(logins().Finish(r.login_id, "tok", "ses_1", now_ + absl::Hours(1), accepted).ok());
  EXPECT_EQ(spent(), 1);
  // Refused before any write: no operation at all.
  EXPECT_FALSE(logins().Get("nonsense").ok());
  EXPECT_FALSE(logins().UpdateUnlessLocked(r.login_id, accepted, r.subject, now_).ok());
  EXPECT_FALSE(logins()
                   .Reject(r.login_id, LoginUpdate{},
                           LockoutFailure{r.subject, "", now_, lockout().policy(), {}})
                   .ok());
  EXPECT_EQ(spent(), 0);
}

TEST_P(LoginStoreContract, StartLimitsCountPerAddressAndPerDirectoryPerWindow) {
  StartLimiter& limiter = backend().start_limiter();
  // 15 s into a window (windows start at whole minutes of Unix time).
  const absl::Time now = absl::FromUnixSeconds(1900000020) + absl::Seconds(15);
  auto acquire = [&](absl::string_view client, absl::Time at) {
    absl::StatusOr<absl::Duration> wait = limiter.Acquire(dir_, client, at);
    EXPECT_TRUE(wait.ok()) << wait.status();
    return wait.ok() ? *wait : absl::InfiniteDuration();
  };
  // Three from one address, the fourth refused until the window's end (counting nothing).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(acquire("198.51.100.7", now), absl::ZeroDuration());
  EXPECT_EQ(acquire("198.51.100.7", now), absl::Seconds(45));
  // Other addresses and no address share the directory's five.
  EXPECT_EQ(acquire("198.51.100.8", now), absl::ZeroDuration());
  EXPECT_EQ(acquire("", now), absl::ZeroDuration());
  EXPECT_EQ(acquire("", now), absl::Seconds(45));
  EXPECT_EQ(acquire("198.51.100.9", now + absl::Seconds(40)), absl::Seconds(5));
  // Another directory has its own; the next window starts over.
  EXPECT_EQ(*limiter.Acquire(dir_ + "x", "198.51.100.7", now), absl::ZeroDuration());
  EXPECT_EQ(acquire("198.51.100.7", now + absl::Seconds(45)), absl::ZeroDuration());
}

}  // namespace
}  // namespace tally::orchestrator::testing
