// Issue 20 against the real cluster: the lockout that one factor cannot reset, that ends pending
// logins and that keys unknown usernames as the credential service keys users; the permanent
// lock until UnlockUser; StartLogin's rate limit; the OTP service's pre-proof send budgets
// reaching the caller with their details. The orchestrators run with a permanent threshold and
// limits small enough to reach in a test.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/error_details.h"
#include "common/status/grpc_status.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
using testing::Cluster;
using testing::ClusterOptions;

// Consecutive failures in total that lock until UnlockUser (the lockout threshold stays 5).
constexpr int kPermanentThreshold = 8;
// StartLogin calls per minute from one client address.
constexpr int kStartsPerClient = 3;
// Codes per hour to one client address before any factor is proven (the OTP service's budget).
constexpr int kUnprovenSendsPerClient = 2;

class LockoutTest : public testing::ClusterTest<LockoutTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.orchestrators = 1;
    options.flags["orchestrator"] = {
        absl::StrCat("--lockout_permanent_threshold=", kPermanentThreshold),
        absl::StrCat("--start_login_per_client_per_minute=", kStartsPerClient)};
    options.flags["otp"] = {
        absl::StrCat("--otp_unproven_client_ip_hourly_cap=", kUnprovenSendsPerClient)};
    return options;
  }

 protected:
  opb::LoginState Start(const std::string& dir, const std::string& username) {
    opb::LoginState state;
    grpc::Status s = testing::StartLogin(cluster().logins(), dir, username, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return state;
  }
  grpc::Status StartFrom(const std::string& dir, const std::string& username,
                         const std::string& client_ip, opb::LoginState* state) {
    opb::StartLoginRequest request;
    request.set_directory_id(dir);
    request.set_username(username);
    request.set_client_ip(client_ip);
    opb::StartLoginResponse response;
    grpc::Status s = cluster().logins().StartLogin(testing::NewContext().get(), request, &response);
    if (state != nullptr) *state = response.state();
    return s;
  }
  opb::LoginState Password(const opb::LoginState& login, const std::string& password) {
    opb::LoginState state;
    grpc::Status s =
        testing::SubmitPassword(cluster().logins(), login.login_id(), password, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return state;
  }
  opb::LoginState Send(const opb::LoginState& login, otppb::Channel channel) {
    opb::LoginState state;
    grpc::Status s = testing::SendOtp(cluster().logins(), login.login_id(), channel, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return state;
  }
  opb::LoginState Verify(const opb::LoginState& login, const std::string& code) {
    opb::LoginState state;
    grpc::Status s = testing::VerifyOtp(cluster().logins(), login.login_id(), code, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    return state;
  }
  // The right SMS code in `login`, read from the outbox.
  opb::LoginState RightSmsCode(const opb::LoginState& login, const Cluster::User& user) {
    const size_t mark = cluster().OutboxMark();
    EXPECT_EQ(Send(login, otppb::CHANNEL_SMS).status(), opb::LOGIN_STATUS_IN_PROGRESS);
    const std::string code = cluster().WaitForCode(mark, "sms", user.phone);
    EXPECT_FALSE(code.empty()) << "no code in the outbox";
    return Verify(login, code);
  }
  // kPermanentThreshold consecutive failures of `user`, spread over the password and SMS codes so
  // that no temporary lock comes first: locked until UnlockUser.
  void LockForGood(const std::string& dir, const Cluster::User& user) {
    opb::LoginState passwords = Start(dir, user.username);
    for (int i = 0; i < 4; ++i) Password(passwords, "wrong password");
    opb::LoginState codes = Start(dir, user.username);
    ASSERT_EQ(Send(codes, otppb::CHANNEL_SMS).status(), opb::LOGIN_STATUS_IN_PROGRESS);
    opb::LoginState last;
    for (int i = 0; i < kPermanentThreshold - 4; ++i) last = Verify(codes, "000000");
    EXPECT_EQ(last.status(), opb::LOGIN_STATUS_LOCKED);
    EXPECT_GT(last.retry_after().seconds(), 3600 * 24 * 365);
  }
  // Waits (at most 20 s) until a new login of `username` is no longer LOCKED: the temporary
  // lock (kClusterLockoutSeconds) is over.
  void AwaitLockEnd(const std::string& dir, const std::string& username) {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (Start(dir, username).status() == opb::LOGIN_STATUS_LOCKED) {
      ASSERT_LT(absl::Now(), give_up) << "the lock never ended";
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
};

// Keycloak #46164: someone holding one factor (a swapped SIM) passes it in logins of their own;
// the password's count must not start over each time.
TEST_F(LockoutTest, ARightSmsCodeDoesNotResetThePasswordsFailures) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User user = cluster().CreateUser(dir, "sim");
  opb::LoginState guesses = Start(dir, user.username);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Password(guesses, "wrong password").last_step().attempts_left(), 4 - i);
  }
  opb::LoginState sim = Start(dir, user.username);
  opb::LoginState coded = RightSmsCode(sim, user);
  EXPECT_EQ(coded.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(coded.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  // The fifth wrong password still locks.
  opb::LoginState fifth = Password(Start(dir, user.username), "wrong password");
  EXPECT_EQ(fifth.status(), opb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(fifth.last_step().attempts_left(), 0);
}

// Keycloak #26177: one method at its limit locks every method, and the lock ends the logins
// already under way: they stay LOCKED once the lock is over.
TEST_F(LockoutTest, OneMethodAtItsLimitLocksAllAndEndsThePendingLogins) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User user = cluster().CreateUser(dir, "pending");
  opb::LoginState pending = Start(dir, user.username);
  ASSERT_EQ(Password(pending, testing::kClusterPassword).last_step().outcome(),
            opb::STEP_OUTCOME_ACCEPTED);
  opb::LoginState attacker = Start(dir, user.username);
  for (int i = 0; i < 5; ++i) Password(attacker, "wrong password");
  // Locked for every method: no code is sent for the pending login.
  EXPECT_EQ(Send(pending, otppb::CHANNEL_SMS).status(), opb::LOGIN_STATUS_LOCKED);
  AwaitLockEnd(dir, user.username);
  // The lock is over, yet the login it ended stays locked, sends nothing and never finishes.
  const size_t mark = cluster().OutboxMark();
  opb::LoginState after = Send(pending, otppb::CHANNEL_SMS);
  EXPECT_EQ(after.status(), opb::LOGIN_STATUS_LOCKED);
  EXPECT_GT(after.retry_after().seconds() + after.retry_after().nanos(), 0);
  opb::LoginState got;
  ASSERT_TRUE(testing::GetLogin(cluster().logins(), pending.login_id(), &got).ok());
  EXPECT_EQ(got.status(), opb::LOGIN_STATUS_LOCKED);
  // A new login goes through.
  opb::LoginState fresh = Start(dir, user.username);
  EXPECT_EQ(Password(fresh, testing::kClusterPassword).last_step().outcome(),
            opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(RightSmsCode(fresh, user).status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_TRUE(cluster().WaitForCode(mark, "sms", user.phone).size() > 0);  // the fresh one's
}

// Authelia CVE-2025-24806: "bob" and "bob " are one username to the credential service, so one
// lock; two would tell that bob does not exist.
TEST_F(LockoutTest, SpellingsOfAnUnknownUsernameShareOneLock) {
  const std::string dir = cluster().CreateDirectory();
  opb::LoginState guesses = Start(dir, "bob");
  for (int i = 0; i < 5; ++i) Password(guesses, "wrong password");
  for (const char* spelling : {"bob", "bob ", "Bob", " BOB "}) {
    EXPECT_EQ(Start(dir, spelling).status(), opb::LOGIN_STATUS_LOCKED) << "'" << spelling << "'";
  }
}

// NIST SP 800-63B's cap: consecutive failures in total (here spread over two methods, so no
// temporary lock comes first) lock until an admin or the platform calls UnlockUser.
TEST_F(LockoutTest, TooManyFailuresLockUntilUnlockUser) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User admin = cluster().CreateUser(dir, "admin", {"admin"});
  const Cluster::User user = cluster().CreateUser(dir, "cap");
  LockForGood(dir, user);

  // Long after a temporary lock would have ended: still locked.
  absl::SleepFor(absl::Seconds(testing::kClusterLockoutSeconds + 1));
  opb::LoginState locked = Start(dir, user.username);
  EXPECT_EQ(locked.status(), opb::LOGIN_STATUS_LOCKED);
  EXPECT_EQ(Password(locked, testing::kClusterPassword).status(), opb::LOGIN_STATUS_LOCKED);

  // Nobody else may unlock; garbage is refused.
  opb::UnlockUserRequest unlock;
  unlock.set_user_id(user.id);
  opb::UnlockUserResponse unlocked;
  EXPECT_EQ(
      cluster().logins().UnlockUser(testing::NewContext().get(), unlock, &unlocked).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  const std::string user_token = [&] {
    // A login of another user of the directory, who is no admin.
    const Cluster::User other = cluster().CreateUser(dir, "other");
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir, other);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }();
  EXPECT_EQ(cluster()
                .logins()
                .UnlockUser(testing::NewContext(user_token).get(), unlock, &unlocked)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  opb::UnlockUserRequest garbage;
  garbage.set_user_id("not an id");
  EXPECT_EQ(
      cluster()
          .logins()
          .UnlockUser(testing::NewContext("", cluster().platform_key()).get(), garbage, &unlocked)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Start(dir, user.username).status(), opb::LOGIN_STATUS_LOCKED);

  // The platform unlocks with tallyctl; the right password works again.
  testing::CommandResult cli = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tallyctl"),
       absl::StrCat("--addr=", cluster().service("orchestrator-a").address()),
       absl::StrCat("--platform_key=", cluster().platform_key()), "login", "unlock", user.id});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("unlocked"), std::string::npos) << cli.output;
  opb::LoginState unlocked_login = Start(dir, user.username);
  EXPECT_EQ(unlocked_login.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(Password(unlocked_login, testing::kClusterPassword).last_step().outcome(),
            opb::STEP_OUTCOME_ACCEPTED);

  // Locked for good once more (the count started over); a directory admin unlocks.
  LockForGood(dir, user);
  EXPECT_EQ(Start(dir, user.username).status(), opb::LOGIN_STATUS_LOCKED);
  absl::StatusOr<std::string> admin_token = testing::LoginWithPasswordAndSms(cluster(), dir, admin);
  ASSERT_TRUE(admin_token.ok()) << admin_token.status();
  grpc::Status s =
      cluster().logins().UnlockUser(testing::NewContext(*admin_token).get(), unlock, &unlocked);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  opb::LoginState again = Start(dir, user.username);
  EXPECT_EQ(again.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(Password(again, testing::kClusterPassword).last_step().outcome(),
            opb::STEP_OUTCOME_ACCEPTED);
}

// StartLogin from one address is rate-limited, with the reason and when to retry.
TEST_F(LockoutTest, StartLoginIsRateLimitedPerClientAddress) {
  const std::string dir = cluster().CreateDirectory();
  // Fixed one-minute windows: within 2 * limit + 1 starts one is refused, wherever the window
  // boundary falls.
  grpc::Status refused;
  for (int i = 0; i < 2 * kStartsPerClient + 1 && refused.ok(); ++i) {
    refused = StartFrom(dir, "someone", "192.0.2.44", nullptr);
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << testing::Describe(refused);
  EXPECT_EQ(ErrorReason(refused), "LOGIN_RATE_LIMITED");
  std::optional<absl::Duration> retry = RetryDelayOf(FromGrpcStatus(refused));
  ASSERT_TRUE(retry.has_value());
  EXPECT_GT(*retry, absl::ZeroDuration());
  EXPECT_LE(*retry, absl::Minutes(1));
  // Another address (and no address) may still start logins.
  EXPECT_TRUE(StartFrom(dir, "someone", "192.0.2.45", nullptr).ok());
  EXPECT_TRUE(StartFrom(dir, "someone", "", nullptr).ok());
}

// SMS pumping: before a factor is proven, codes to one client address come from a small budget
// (the OTP service's); its refusal reaches the caller with its ErrorInfo and RetryInfo.
TEST_F(LockoutTest, UnprovenSendsFromOneAddressRunOutWithTheirDetails) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User user = cluster().CreateUser(dir, "pumped");
  opb::LoginState login;
  ASSERT_TRUE(StartFrom(dir, user.username, "198.51.100.99", &login).ok());
  grpc::Status refused;
  for (int i = 0; i < kUnprovenSendsPerClient + 1 && refused.ok(); ++i) {
    opb::LoginState state;
    refused = testing::SendOtp(cluster().logins(), login.login_id(), otppb::CHANNEL_SMS, &state);
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << testing::Describe(refused);
  EXPECT_EQ(ErrorReason(refused), "SEND_BUDGET_EXHAUSTED");
  std::optional<absl::Duration> retry = RetryDelayOf(FromGrpcStatus(refused));
  ASSERT_TRUE(retry.has_value());
  EXPECT_GT(*retry, absl::ZeroDuration());
  // Once the password is proven, the normal caps apply: the code goes out.
  ASSERT_EQ(Password(login, testing::kClusterPassword).last_step().outcome(),
            opb::STEP_OUTCOME_ACCEPTED);
  EXPECT_EQ(RightSmsCode(login, user).status(), opb::LOGIN_STATUS_SUCCEEDED);
}

}  // namespace
}  // namespace tally
