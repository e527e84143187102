// The login store's and the lockout's Lua scripts against the real Redis of `tools/dev test`,
// with an injected "now": a method recorded once, a login finished once, lockout escalation and
// expiry, reservations that keep parallel checks within the limit. Each test has its own
// directory id, so tests run in parallel.

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/testing/test_support.h"
#include "common/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/redis_login_store.h"

namespace tally::orchestrator {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
namespace pb = ::tally::orchestrator::v1;

class LoginStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto options = ParseRedisUrl(tally::testing::RequiredEnv("TALLY_TEST_REDIS_URL"));
    ASSERT_TRUE(options.ok()) << options.status();
    options->pool_size = 20;
    redis_ = std::make_shared<RedisClient>(*options);
    dir_ = "dir_" + tally::testing::UniqueSuffix();
    logins_ = std::make_unique<RedisLoginStore>(redis_);
    lockout_ = std::make_unique<RedisLockoutStore>(redis_, LockoutPolicy{}, CsprngRandom::Get());
  }

  LoginRecord NewRecord() {
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

  std::shared_ptr<RedisClient> redis_;
  std::string dir_;
  std::unique_ptr<RedisLoginStore> logins_;
  std::unique_ptr<RedisLockoutStore> lockout_;
  absl::Time now_ = absl::FromUnixSeconds(1900000000);
};

TEST(LoginIdTest, CarriesTheDirectory) {
  const std::string id = NewLoginId(CsprngRandom::Get(), "dir_abc-1");
  EXPECT_EQ(*DirectoryOfLoginId(id), "dir_abc-1");
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("lgn_abc").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("xyz_abc-dir_1").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DirectoryOfLoginId("lgn_abc-dir}1").status()));
}

TEST_F(LoginStoreTest, CreateGetAndUpdateRoundTrip) {
  LoginRecord r = NewRecord();
  r.step_up_level = 40;
  r.completed[AUTH_METHOD_PASSWORD] = now_;
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  absl::StatusOr<LoginRecord> got = logins_->Get(r.login_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->directory_id, dir_);
  EXPECT_EQ(got->username, "alice");
  EXPECT_EQ(got->subject, "u:usr_1");
  EXPECT_EQ(got->candidate_user_id, "usr_1");
  EXPECT_TRUE(got->user_id.empty());
  EXPECT_EQ(got->step_up_level, 40);
  EXPECT_EQ(got->completed.at(AUTH_METHOD_PASSWORD), now_);
  EXPECT_EQ(got->expire_time, now_ + absl::Minutes(10));
  EXPECT_FALSE(got->otp.has_value());
  EXPECT_FALSE(got->finished());

  LoginUpdate u;
  u.user_id = "usr_1";
  u.caps = UserCaps{"alice", true, true, false, 0};
  u.otp = OtpState{::tally::otp::v1::CHANNEL_SMS, "", 5, "", now_ + absl::Seconds(30)};
  u.passkey_challenge_id = "wa_1";
  u.last_step = LastStep{AUTH_METHOD_PASSWORD, ::tally::orchestrator::v1::STEP_OUTCOME_REJECTED, 3};
  absl::StatusOr<LoginRecord> after = logins_->Update(r.login_id, u);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->user_id, "usr_1");
  ASSERT_TRUE(after->caps.has_value());
  EXPECT_EQ(after->caps->username, "alice");
  EXPECT_TRUE(after->caps->has_password);
  EXPECT_TRUE(after->caps->has_phone);
  EXPECT_FALSE(after->caps->has_email);
  EXPECT_EQ(after->caps->has_passkey, 0);
  ASSERT_TRUE(after->otp.has_value());
  EXPECT_EQ(after->otp->channel, ::tally::otp::v1::CHANNEL_SMS);
  EXPECT_TRUE(after->otp->challenge_id.empty());
  EXPECT_EQ(after->otp->fake_attempts_left, 5);
  EXPECT_EQ(after->otp->resend_after, now_ + absl::Seconds(30));
  EXPECT_EQ(after->passkey_challenge_id, "wa_1");
  ASSERT_TRUE(after->last_step.has_value());
  EXPECT_EQ(after->last_step->attempts_left, 3);

  // A fake code's attempts go down to zero and stay there; clearing a field removes it.
  LoginUpdate use;
  use.use_fake_attempt = true;
  use.passkey_challenge_id = "";
  for (int i = 0; i < 7; ++i) after = logins_->Update(r.login_id, use);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->otp->fake_attempts_left, 0);
  EXPECT_TRUE(after->passkey_challenge_id.empty());

  // A real challenge replaces the fake one.
  LoginUpdate real;
  real.otp = OtpState{::tally::otp::v1::CHANNEL_EMAIL, "otp_1", 0, "a***@example.com", now_};
  after = logins_->Update(r.login_id, real);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->otp->challenge_id, "otp_1");
  EXPECT_EQ(after->otp->masked_destination, "a***@example.com");
}

TEST_F(LoginStoreTest, UnknownLoginsAreNotFoundAndTheTtlIsSet) {
  const std::string id = NewLoginId(CsprngRandom::Get(), dir_);
  EXPECT_TRUE(absl::IsNotFound(logins_->Get(id).status()));
  EXPECT_TRUE(absl::IsNotFound(logins_->Update(id, LoginUpdate{}).status()));
  EXPECT_TRUE(absl::IsNotFound(logins_->Finish(id, "t", "s", now_, LoginUpdate{}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(logins_->Get("nonsense").status()));

  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  auto ttl = redis_->Command({"PTTL", absl::StrCat("{", dir_, "}:login:", r.login_id)});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer(), absl::ToInt64Milliseconds(absl::Minutes(9)));
  EXPECT_LE(ttl->integer(), absl::ToInt64Milliseconds(absl::Minutes(10)));
  // Updates keep the TTL.
  LoginUpdate prove;
  prove.user_id = "usr_1";
  ASSERT_TRUE(logins_->Update(r.login_id, prove).ok());
  ttl = redis_->Command({"PTTL", absl::StrCat("{", dir_, "}:login:", r.login_id)});
  EXPECT_GT(ttl->integer(), 0);
}

TEST_F(LoginStoreTest, AMethodIsRecordedOnceEvenWhenStepsRace) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      LoginUpdate u;
      u.complete_method = AUTH_METHOD_SMS_OTP;
      u.completed_at = now_ + absl::Seconds(i);
      if (logins_->Update(r.login_id, u).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  absl::StatusOr<LoginRecord> got = logins_->Get(r.login_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->completed.size(), 1u);
  // The time of whichever step came first, never overwritten.
  const absl::Time first = got->completed.at(AUTH_METHOD_SMS_OTP);
  LoginUpdate again;
  again.complete_method = AUTH_METHOD_SMS_OTP;
  again.completed_at = now_ + absl::Hours(1);
  EXPECT_EQ(logins_->Update(r.login_id, again)->completed.at(AUTH_METHOD_SMS_OTP), first);
}

TEST_F(LoginStoreTest, ALoginFinishesExactlyOnce) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
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
          logins_->Finish(r.login_id, absl::StrCat("token-", i), absl::StrCat("ses_", i),
                          now_ + absl::Hours(8), update_of(i));
      ASSERT_TRUE(result.ok()) << result.status();
      if (result->won) ++won;
      sessions[i] = result->record.session_id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  for (const std::string& s : sessions) EXPECT_EQ(s, sessions[0]);
  absl::StatusOr<LoginRecord> got = logins_->Get(r.login_id);
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
  EXPECT_TRUE(absl::IsFailedPrecondition(logins_->Update(r.login_id, u).status()));
  EXPECT_FALSE(logins_->Get(r.login_id)->completed.contains(AUTH_METHOD_EMAIL_OTP));
}

TEST_F(LoginStoreTest, CreateAnswersTheSubjectsLockInTheSameRoundTrip) {
  LoginRecord r = NewRecord();
  // A script reload aside: tests running beside this one flush Redis's script cache.
  const int64_t before = redis_->round_trips() - redis_->script_reloads();
  absl::StatusOr<absl::Duration> locked = logins_->Create(r, absl::Minutes(10));
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(*locked, absl::ZeroDuration());
  EXPECT_EQ(redis_->round_trips() - redis_->script_reloads() - before, 1);

  // Five failures lock the subject for a minute, as LockedFor sees it.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout_->RecordFailure(dir_, r.subject, "", now_).ok());
  }
  LoginRecord r2 = NewRecord();
  r2.create_time = now_ + absl::Seconds(20);
  locked = logins_->Create(r2, absl::Minutes(10));
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(*locked, absl::Seconds(40));
  EXPECT_EQ(*locked, *lockout_->LockedFor(dir_, r.subject, r2.create_time));
  // Once the lock has run out, and for a login with no subject yet, nothing is locked.
  LoginRecord r3 = NewRecord();
  r3.create_time = now_ + absl::Minutes(2);
  EXPECT_EQ(*logins_->Create(r3, absl::Minutes(10)), absl::ZeroDuration());
  LoginRecord r4 = NewRecord();
  r4.subject.clear();
  r4.create_time = now_ + absl::Seconds(20);
  EXPECT_EQ(*logins_->Create(r4, absl::Minutes(10)), absl::ZeroDuration());
  // An id that exists is never overwritten.
  EXPECT_EQ(logins_->Create(r2, absl::Minutes(10)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(LoginStoreTest, AGuardedUpdateReadsTheLockInItsOwnRoundTrip) {
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  LoginUpdate update;
  update.passkey_challenge_id = "wa_1";

  // Not locked: applied, in one round trip (a script reload aside: tests running beside this
  // one flush Redis's script cache).
  auto count = [&] { return redis_->round_trips() - redis_->script_reloads(); };
  const int64_t before = count();
  absl::StatusOr<GuardedUpdate> guarded =
      logins_->UpdateUnlessLocked(r.login_id, update, r.subject, now_);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(count() - before, 1);
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_1");
  EXPECT_EQ(logins_->Get(r.login_id)->passkey_challenge_id, "wa_1");

  // Locked: nothing changes, and the answer agrees with LockedFor.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lockout_->RecordFailure(dir_, r.subject, "", now_).ok());
  }
  update.passkey_challenge_id = "wa_2";
  const absl::Time later = now_ + absl::Seconds(20);
  guarded = logins_->UpdateUnlessLocked(r.login_id, update, r.subject, later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::Seconds(40));
  EXPECT_EQ(guarded->locked_for, *lockout_->LockedFor(dir_, r.subject, later));
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_1");
  EXPECT_EQ(logins_->Get(r.login_id)->passkey_challenge_id, "wa_1");
  // Another subject's lock is not this one's; no subject is never locked.
  guarded = logins_->UpdateUnlessLocked(r.login_id, update, "u:usr_2", later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_2");
  update.passkey_challenge_id = "wa_3";
  guarded = logins_->UpdateUnlessLocked(r.login_id, update, "", later);
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_3");
  // Once the lock has run out the update applies again.
  update.passkey_challenge_id = "wa_4";
  guarded = logins_->UpdateUnlessLocked(r.login_id, update, r.subject, now_ + absl::Minutes(1));
  ASSERT_TRUE(guarded.ok()) << guarded.status();
  EXPECT_EQ(guarded->locked_for, absl::ZeroDuration());
  EXPECT_EQ(guarded->record.passkey_challenge_id, "wa_4");

  // Unknown and finished logins answer as Update does; a lockout success is refused.
  LoginRecord unknown = NewRecord();
  EXPECT_TRUE(absl::IsNotFound(
      logins_->UpdateUnlessLocked(unknown.login_id, update, unknown.subject, now_).status()));
  LoginUpdate success = update;
  success.lockout_success = LockoutSuccess{r.subject, ""};
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins_->UpdateUnlessLocked(r.login_id, success, r.subject, now_).status()));
  ASSERT_TRUE(logins_->Finish(r.login_id, "tok", "sid_1", now_ + absl::Hours(1), {}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      logins_->UpdateUnlessLocked(r.login_id, update, r.subject, now_ + absl::Minutes(1))
          .status()));
}

TEST_F(LoginStoreTest, ARejectionCountsTheFailureInTheLoginsOwnWrite) {
  const std::string subject = "u:usr_1";
  const std::string twin = "u:usr_twin";  // counted by RecordFailure alone, for comparison
  const LockoutPolicy policy = lockout_->policy();
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  LoginUpdate rejected;
  rejected.last_step = LastStep{AUTH_METHOD_PASSWORD, pb::STEP_OUTCOME_REJECTED, 0};
  auto count = [&] { return redis_->round_trips() - redis_->script_reloads(); };
  auto pending = [&] {
    return redis_->Command({"ZCARD", absl::StrCat("{", dir_, "}:rl:lock:", subject, ":pending")});
  };

  for (int i = 1; i <= 5; ++i) {
    absl::StatusOr<Reservation> reservation = lockout_->Reserve(dir_, subject, now_);
    ASSERT_TRUE(reservation.ok() && reservation->granted);
    const int64_t before = count();
    absl::StatusOr<Rejection> rejection = logins_->Reject(
        r.login_id, rejected, LockoutFailure{subject, reservation->id, now_, policy, {}});
    ASSERT_TRUE(rejection.ok()) << rejection.status();
    EXPECT_EQ(count() - before, 1);
    absl::StatusOr<LockOutcome> alone = lockout_->RecordFailure(dir_, twin, "", now_);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ(rejection->outcome.locked, alone->locked);
    EXPECT_EQ(rejection->outcome.retry_after, alone->retry_after);
    EXPECT_EQ(rejection->outcome.attempts_left, alone->attempts_left);
    EXPECT_EQ(rejection->outcome.attempts_left, 5 - i);
    EXPECT_EQ(rejection->attempts_left, 5 - i);
    EXPECT_EQ(pending()->integer(), 0);  // the reservation was given back
    ASSERT_TRUE(rejection->record.ok()) << rejection->record.status();
    ASSERT_TRUE(rejection->record->last_step.has_value());
    EXPECT_EQ(rejection->record->last_step->outcome, pb::STEP_OUTCOME_REJECTED);
    EXPECT_EQ(rejection->record->last_step->attempts_left, 5 - i);
    EXPECT_EQ(logins_->Get(r.login_id)->last_step->attempts_left, 5 - i);
  }
  EXPECT_EQ(*lockout_->LockedFor(dir_, subject, now_), absl::Minutes(1));

  // A factor with fewer attempts of its own shows those; the lock doubles as RecordFailure's.
  LoginUpdate code = rejected;
  code.last_step->method = AUTH_METHOD_SMS_OTP;
  const absl::Time later = now_ + absl::Minutes(1);
  absl::StatusOr<Rejection> rejection =
      logins_->Reject(r.login_id, code, LockoutFailure{subject, "", later, policy, 2});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  absl::StatusOr<LockOutcome> alone = lockout_->RecordFailure(dir_, twin, "", later);
  EXPECT_TRUE(rejection->outcome.locked);
  EXPECT_EQ(rejection->outcome.retry_after, absl::Minutes(2));
  EXPECT_EQ(rejection->outcome.retry_after, alone->retry_after);
  EXPECT_EQ(rejection->attempts_left, 0);
  EXPECT_EQ(rejection->record->last_step->method, AUTH_METHOD_SMS_OTP);
  EXPECT_EQ(rejection->record->last_step->attempts_left, 0);
  LoginRecord fresh = NewRecord();
  ASSERT_TRUE(logins_->Create(fresh, absl::Minutes(10)).ok());
  rejection = logins_->Reject(fresh.login_id, code,
                              LockoutFailure{"u:usr_other", "", now_, policy, 2});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_EQ(rejection->outcome.attempts_left, 4);
  EXPECT_EQ(rejection->attempts_left, 2);
  EXPECT_EQ(rejection->record->last_step->attempts_left, 2);

  // The failure counts even when the login is gone or finished; the login stays as it was.
  LoginRecord unknown = NewRecord();
  rejection = logins_->Reject(unknown.login_id, rejected,
                              LockoutFailure{"u:usr_other", "", now_, policy, {}});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_TRUE(absl::IsNotFound(rejection->record.status()));
  EXPECT_EQ(rejection->outcome.attempts_left, 3);
  ASSERT_TRUE(logins_->Finish(fresh.login_id, "tok", "sid_1", now_ + absl::Hours(1), {}).ok());
  rejection = logins_->Reject(fresh.login_id, rejected,
                              LockoutFailure{"u:usr_other", "", now_, policy, {}});
  ASSERT_TRUE(rejection.ok()) << rejection.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(rejection->record.status()));
  EXPECT_EQ(rejection->outcome.attempts_left, 2);
  EXPECT_EQ(logins_->Get(fresh.login_id)->last_step->attempts_left, 2);

  // An update without a last step, or with a lockout success, is refused before any write.
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins_->Reject(r.login_id, LoginUpdate{}, LockoutFailure{subject, "", now_, policy, {}})
          .status()));
  LoginUpdate success = rejected;
  success.lockout_success = LockoutSuccess{subject, ""};
  EXPECT_TRUE(absl::IsInvalidArgument(
      logins_->Reject(r.login_id, success, LockoutFailure{subject, "", now_, policy, {}})
          .status()));
  EXPECT_EQ(*lockout_->AttemptsLeft(dir_, "u:usr_other"), 2);
}

TEST_F(LoginStoreTest, ARightFactorEndsTheFailuresInTheLoginsOwnWrite) {
  const std::string subject = "u:usr_1";
  auto fails = [&] {
    return redis_->Command({"HGET", absl::StrCat("{", dir_, "}:rl:lock:", subject), "fails"});
  };
  auto pending = [&] {
    return redis_->Command(
        {"ZCARD", absl::StrCat("{", dir_, "}:rl:lock:", subject, ":pending")});
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, "", now_).ok());
  }
  ASSERT_EQ(fails()->str(), "3");

  // Update: the reservation is given back and the failures end, in one round trip.
  LoginRecord r = NewRecord();
  ASSERT_TRUE(logins_->Create(r, absl::Minutes(10)).ok());
  absl::StatusOr<Reservation> reservation = lockout_->Reserve(dir_, subject, now_);
  ASSERT_TRUE(reservation.ok() && reservation->granted);
  ASSERT_EQ(pending()->integer(), 1);
  LoginUpdate accepted;
  accepted.complete_method = AUTH_METHOD_PASSWORD;
  accepted.completed_at = now_;
  accepted.lockout_success = LockoutSuccess{subject, reservation->id};
  // A script reload aside: tests running beside this one flush Redis's script cache.
  const int64_t before = redis_->round_trips() - redis_->script_reloads();
  absl::StatusOr<LoginRecord> after = logins_->Update(r.login_id, accepted);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(redis_->round_trips() - redis_->script_reloads() - before, 1);
  EXPECT_TRUE(after->completed.contains(AUTH_METHOD_PASSWORD));
  EXPECT_TRUE(fails()->IsNil());
  EXPECT_EQ(pending()->integer(), 0);
  EXPECT_EQ(*lockout_->AttemptsLeft(dir_, subject), lockout_->threshold());

  // Finish: the same, with the session; and even for a step that lost the race or came after
  // the login was gone, since its factor was right all the same.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, "", now_).ok());
  }
  LoginRecord r2 = NewRecord();
  ASSERT_TRUE(logins_->Create(r2, absl::Minutes(10)).ok());
  accepted.lockout_success = LockoutSuccess{subject, ""};
  absl::StatusOr<FinishResult> finished =
      logins_->Finish(r2.login_id, "token", "ses_1", now_ + absl::Hours(8), accepted);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_TRUE(finished->won);
  EXPECT_TRUE(finished->record.completed.contains(AUTH_METHOD_PASSWORD));
  EXPECT_TRUE(fails()->IsNil());

  ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, "", now_).ok());
  finished = logins_->Finish(r2.login_id, "token2", "ses_2", now_ + absl::Hours(8), accepted);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_FALSE(finished->won);
  EXPECT_EQ(finished->record.session_id, "ses_1");
  EXPECT_TRUE(fails()->IsNil());

  ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, "", now_).ok());
  EXPECT_TRUE(absl::IsNotFound(
      logins_->Update(NewLoginId(CsprngRandom::Get(), dir_), accepted).status()));
  EXPECT_TRUE(fails()->IsNil());

  // Without a lockout success the counters are left alone.
  ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, "", now_).ok());
  LoginRecord r3 = NewRecord();
  ASSERT_TRUE(logins_->Create(r3, absl::Minutes(10)).ok());
  LoginUpdate plain;
  plain.passkey_challenge_id = "ch_1";
  ASSERT_TRUE(logins_->Update(r3.login_id, plain).ok());
  EXPECT_EQ(fails()->str(), "1");
}

TEST_F(LoginStoreTest, FiveFailuresLockForAMinuteThenDoublingUpToAnHour) {
  const std::string subject = "u:usr_1";
  absl::Time now = now_;
  for (int i = 1; i <= 4; ++i) {
    absl::StatusOr<Reservation> r = lockout_->Reserve(dir_, subject, now);
    ASSERT_TRUE(r.ok() && r->granted);
    absl::StatusOr<LockOutcome> o = lockout_->RecordFailure(dir_, subject, r->id, now);
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_FALSE(o->locked);
    EXPECT_EQ(o->attempts_left, 5 - i);
    EXPECT_EQ(*lockout_->AttemptsLeft(dir_, subject), 5 - i);
  }
  absl::StatusOr<Reservation> r = lockout_->Reserve(dir_, subject, now);
  ASSERT_TRUE(r->granted);
  absl::StatusOr<LockOutcome> o = lockout_->RecordFailure(dir_, subject, r->id, now);
  EXPECT_TRUE(o->locked);
  EXPECT_EQ(o->retry_after, absl::Minutes(1));
  EXPECT_EQ(*lockout_->LockedFor(dir_, subject, now + absl::Seconds(20)), absl::Seconds(40));

  // While locked nothing is reserved.
  r = lockout_->Reserve(dir_, subject, now + absl::Seconds(59));
  EXPECT_FALSE(r->granted);
  EXPECT_EQ(r->retry_after, absl::Seconds(1));

  // Each further failure doubles the lock: 2, 4, 8, 16, 32 minutes, then 1 hour at most.
  const std::vector<absl::Duration> expected = {absl::Minutes(2),  absl::Minutes(4),
                                                absl::Minutes(8),  absl::Minutes(16),
                                                absl::Minutes(32), absl::Hours(1),
                                                absl::Hours(1)};
  absl::Duration lock = absl::Minutes(1);
  for (absl::Duration want : expected) {
    now += lock;
    EXPECT_EQ(*lockout_->LockedFor(dir_, subject, now), absl::ZeroDuration());
    r = lockout_->Reserve(dir_, subject, now);
    ASSERT_TRUE(r->granted);
    // Past the threshold one check at a time: each failure locks again.
    EXPECT_FALSE(lockout_->Reserve(dir_, subject, now)->granted);
    o = lockout_->RecordFailure(dir_, subject, r->id, now);
    EXPECT_TRUE(o->locked);
    EXPECT_EQ(o->retry_after, want);
    lock = want;
  }

  // A success (with its login's update) resets everything.
  now += lock;
  r = lockout_->Reserve(dir_, subject, now);
  ASSERT_TRUE(r->granted);
  LoginRecord login = NewRecord();
  login.subject = subject;
  ASSERT_TRUE(logins_->Create(login, absl::Minutes(10)).ok());
  LoginUpdate success;
  success.lockout_success = LockoutSuccess{subject, r->id};
  ASSERT_TRUE(logins_->Update(login.login_id, success).ok());
  EXPECT_EQ(*lockout_->AttemptsLeft(dir_, subject), 5);
  EXPECT_EQ(*lockout_->LockedFor(dir_, subject, now), absl::ZeroDuration());
}

TEST_F(LoginStoreTest, ParallelReservationsNeverExceedTheFailuresLeft) {
  const std::string subject = "n:mallory";
  // Two failures already: three checks may run at once.
  for (int i = 0; i < 2; ++i) {
    auto r = lockout_->Reserve(dir_, subject, now_);
    ASSERT_TRUE(lockout_->RecordFailure(dir_, subject, r->id, now_).ok());
  }
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  std::vector<std::string> ids(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<Reservation> r = lockout_->Reserve(dir_, subject, now_);
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
      ASSERT_TRUE(lockout_->Cancel(dir_, subject, id).ok());
      break;
    }
  }
  EXPECT_TRUE(lockout_->Reserve(dir_, subject, now_)->granted);
  EXPECT_FALSE(lockout_->Reserve(dir_, subject, now_)->granted);
  EXPECT_TRUE(lockout_->Reserve(dir_, subject, now_ + absl::Seconds(31))->granted);
}

TEST_F(LoginStoreTest, FakeSendsAreThrottledLikeRealOnes) {
  auto send = [&](const std::string& key, absl::Duration at) {
    absl::StatusOr<FakeSend> r = lockout_->StartFakeSend(dir_, key, now_ + at, absl::Seconds(30),
                                                         /*hourly_cap=*/3);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(FakeSend{});
  };
  FakeSend first = send("n:bob:1", absl::ZeroDuration());
  EXPECT_TRUE(first.sent);
  EXPECT_EQ(first.resend_after, now_ + absl::Seconds(30));
  FakeSend early = send("n:bob:1", absl::Seconds(10));
  EXPECT_FALSE(early.sent);
  EXPECT_EQ(early.refusal, "cooldown");
  EXPECT_EQ(early.retry_after, absl::Seconds(20));
  EXPECT_TRUE(send("n:bob:2", absl::Seconds(10)).sent);  // another channel: its own window
  EXPECT_TRUE(send("n:bob:1", absl::Seconds(30)).sent);
  // The third send in the hour reaches the cap: the next one waits for the first to age out.
  FakeSend third = send("n:bob:1", absl::Seconds(60));
  EXPECT_TRUE(third.sent);
  EXPECT_EQ(third.resend_after, now_ + absl::Hours(1));
  FakeSend capped = send("n:bob:1", absl::Seconds(600));
  EXPECT_FALSE(capped.sent);
  EXPECT_EQ(capped.refusal, "destination_cap");
  EXPECT_EQ(capped.retry_after, absl::Hours(1) - absl::Seconds(600));
  EXPECT_TRUE(send("n:bob:1", absl::Hours(1)).sent);
}

}  // namespace
}  // namespace tally::orchestrator
