// Fault 1 of issue 9: Redis SIGKILLed in the middle of logins, then restarted on the same data
// (append-only file). While it is down every service that needs it answers UNAVAILABLE (not a
// hang: each call has a deadline it must beat) and reports NOT_SERVING on readiness ("");
// once it is back the same processes serve again; no login succeeded that should not have, and
// none is half-counted: what a client was told before the kill is what Redis holds after it.
//
// Durability: tools/dev redis-start runs Redis with appendonly yes and the default
// appendfsync everysec. After a *process* kill, everything Redis wrote to the AOF is in the
// kernel's page cache and survives; but with everysec Redis may postpone that write (while a
// background fsync is slow) and still reply. The test sets appendfsync always, under which
// Redis writes (and fsyncs) a command's effect before replying, so "acknowledged means kept"
// is an exact claim here.

#include <signal.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using ::grpc::health::v1::HealthCheckResponse;
using testing::ClusterOptions;
using testing::kClusterPassword;

// The services that keep state in Redis.
const std::vector<std::string> kRedisServices = {"orchestrator-a", "orchestrator-b", "otp",
                                                 "otp-sender-a", "passkey"};

TEST(RedisKilledTest, ServicesFailFastReportNotServingAndRecoverWithNothingHalfCounted) {
  ScratchRedis redis(/*append_only=*/true);
  ASSERT_TRUE(redis.Start().ok());
  absl::StatusOr<std::string> fsync = redis.Cli({"CONFIG", "SET", "appendfsync", "always"});
  ASSERT_TRUE(fsync.ok()) << fsync.status();
  absl::StatusOr<std::string> aof = redis.Cli({"CONFIG", "GET", "appendonly"});
  ASSERT_TRUE(aof.ok() && absl::StrContains(*aof, "yes")) << aof.status();

  ClusterOptions options;
  options.redis_url = redis.url();
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());
  std::map<std::string, pid_t> pids;
  for (const std::string& name : kRedisServices) {
    pids[name] = cluster.service(name).process().pid();
    ASSERT_EQ(cluster.service(name).Health(), HealthCheckResponse::SERVING) << name;
  }

  const std::string dir = cluster.CreateDirectory(polpb::TIER_FREEMIUM);
  const Cluster::User alice = cluster.CreateUser(dir, "alice");
  const Cluster::User bob = cluster.CreateUser(dir, "bob");
  const std::string password_dir = cluster.CreateDirectory(polpb::TIER_PROFESSIONAL);
  cluster.CreateUser(password_dir, "loader");
  cluster.CreateUser(password_dir, "guesser");
  absl::StatusOr<std::string> logged_in = LoginWithPasswordAndSms(cluster, dir, bob);
  ASSERT_TRUE(logged_in.ok()) << logged_in.status();
  const std::string token = *logged_in;

  // Alice's login is half way: the password was accepted (20 of 30) before the kill.
  opb::LoginState half;
  ASSERT_TRUE(StartLogin(cluster.logins(0), dir, "alice", &half).ok());
  ASSERT_TRUE(SubmitPassword(cluster.logins(0), half.login_id(), kClusterPassword, &half).ok());
  ASSERT_EQ(half.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
  ASSERT_EQ(half.score(), 20);
  // Bob's has only started.
  opb::LoginState fresh;
  ASSERT_TRUE(StartLogin(cluster.logins(1), dir, "bob", &fresh).ok());

  PasswordLoginLoad load(cluster, password_dir, "loader", "guesser");
  ASSERT_TRUE(testing::WaitFor([&] { return load.Count(grpc::StatusCode::OK, true) >= 3; },
                               absl::Seconds(60)))
      << "the load never got going";

  ASSERT_TRUE(redis.Kill().ok());

  // Readiness follows the store; liveness does not (no restarts for a store outage).
  for (const std::string& name : kRedisServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::NOT_SERVING; },
        absl::Seconds(10)))
        << name << " does not report NOT_SERVING while Redis is down";
    EXPECT_EQ(cluster.service(name).Health("liveness"), HealthCheckResponse::SERVING) << name;
  }
  // The services without Redis are not dragged down with it.
  for (const char* name : {"policy", "credential"}) {
    EXPECT_EQ(cluster.service(name).Health(), HealthCheckResponse::SERVING) << name;
  }
  // Every call that needs Redis fails with UNAVAILABLE within its deadline (a hang would be
  // DEADLINE_EXCEEDED).
  const absl::Duration deadline = absl::Seconds(10);
  for (int replica : {0, 1}) {
    opb::LoginService::Stub& stub = cluster.logins(replica);
    opb::LoginState state;
    grpc::Status s = StartLogin(stub, dir, "alice", &state, deadline);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << replica << " " << Describe(s);
    s = GetLogin(stub, half.login_id(), &state, deadline);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << replica << " " << Describe(s);
    // The right password while the login cannot be read: not accepted, not counted.
    s = SubmitPassword(stub, fresh.login_id(), kClusterPassword, &state, deadline);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << replica << " " << Describe(s);
    s = SendOtp(stub, half.login_id(), otppb::CHANNEL_SMS, &state, deadline);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << replica << " " << Describe(s);
  }
  {
    // A token cannot be checked against the revocations: refused, not waved through.
    opb::ValidateSessionRequest r;
    r.set_token(token);
    opb::ValidateSessionResponse out;
    grpc::Status s = cluster.sessions().ValidateSession(
        testing::NewContext("", "", deadline).get(), r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  }
  {
    otppb::SendCodeRequest r;
    r.set_directory_id(dir);
    r.set_user_id(alice.id);
    r.set_channel(otppb::CHANNEL_SMS);
    r.set_destination(alice.phone);
    otppb::SendCodeResponse out;
    grpc::Status s = cluster.otps().SendCode(
        testing::NewContext("", cluster.platform_key(), deadline).get(), r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  }
  {
    pkpb::StartAuthenticationRequest r;
    r.set_directory_id(dir);  // discoverable: only the challenge store is needed
    pkpb::StartAuthenticationResponse out;
    grpc::Status s = cluster.passkeys().StartAuthentication(
        testing::NewContext("", cluster.platform_key(), deadline).get(), r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
  }
  // The load saw the outage too.
  EXPECT_TRUE(testing::WaitFor(
      [&] { return load.Count(grpc::StatusCode::UNAVAILABLE, false) >= 2; }, absl::Seconds(20)));
  const int succeeded_before = load.Count(grpc::StatusCode::OK, true);

  ASSERT_TRUE(redis.Start().ok());

  // The same processes serve again.
  for (const std::string& name : kRedisServices) {
    EXPECT_TRUE(testing::WaitFor(
        [&] { return cluster.service(name).Health() == HealthCheckResponse::SERVING; },
        absl::Seconds(30)))
        << name << " does not serve again after Redis came back";
    EXPECT_EQ(cluster.service(name).process().pid(), pids[name]) << name;
    EXPECT_EQ(kill(pids[name], 0), 0) << name << " is gone";
  }
  EXPECT_TRUE(testing::WaitFor(
      [&] { return load.Count(grpc::StatusCode::OK, true) >= succeeded_before + 3; },
      absl::Seconds(60)))
      << "password logins do not succeed again";
  load.Stop();

  // Alice's login continues where it was: password counted once, SMS completes it.
  opb::LoginState state;
  grpc::Status s = GetLogin(cluster.logins(1), half.login_id(), &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(state.score(), 20);
  ASSERT_EQ(state.completed_methods_size(), 1);
  EXPECT_EQ(state.completed_methods(0), cpb::AUTH_METHOD_PASSWORD);
  const size_t mark = cluster.OutboxMark();
  s = SendOtp(cluster.logins(1), half.login_id(), otppb::CHANNEL_SMS, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  const std::string code = cluster.WaitForCode(mark, "sms", alice.phone);
  ASSERT_FALSE(code.empty()) << "the sender does not deliver after Redis came back";
  s = VerifyOtp(cluster.logins(0), half.login_id(), code, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(state.score(), 30);
  EXPECT_TRUE(ValidateSession(cluster.sessions(), state.session().token()).ok());

  // Bob's login: the password sent during the outage left no trace.
  s = GetLogin(cluster.logins(0), fresh.login_id(), &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.score(), 0);
  EXPECT_EQ(state.completed_methods_size(), 0);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  // The session issued before the kill is still valid (its revocation list was not lost
  // either way, and the signing keys are not in Redis).
  EXPECT_TRUE(ValidateSession(cluster.sessions(), token).ok());

  // Every login of the load: only UNAVAILABLE as an error; a wrong password never succeeded;
  // what the client was told is what Redis holds now.
  int checked = 0;
  for (const PasswordLoginLoad::Outcome& o : load.outcomes()) {
    if (o.code != grpc::StatusCode::OK) {
      EXPECT_EQ(o.code, grpc::StatusCode::UNAVAILABLE) << o.login_id << " " << o.message;
    }
    if (o.wrong_password) {
      EXPECT_NE(o.status, opb::LOGIN_STATUS_SUCCEEDED) << o.login_id;
      EXPECT_NE(o.step, opb::STEP_OUTCOME_ACCEPTED) << o.login_id;
    }
    if (o.login_id.empty()) continue;
    opb::LoginState now;
    grpc::Status got = GetLogin(cluster.logins(checked++ % 2), o.login_id, &now);
    ASSERT_TRUE(got.ok()) << o.login_id << " " << Describe(got);
    if (o.wrong_password) {
      EXPECT_NE(now.status(), opb::LOGIN_STATUS_SUCCEEDED) << o.login_id;
      EXPECT_EQ(now.score(), 0) << o.login_id;
    } else if (o.status == opb::LOGIN_STATUS_SUCCEEDED) {
      EXPECT_EQ(now.status(), opb::LOGIN_STATUS_SUCCEEDED) << o.login_id;
      EXPECT_EQ(now.session().session_id(), o.session_id) << o.login_id;
    } else {
      // Not told it succeeded: either nothing was counted, or the password was and the login
      // is complete (a step that finished in Redis but whose answer was lost) — never 20
      // points left dangling without a session.
      const bool untouched = now.score() == 0 && now.completed_methods_size() == 0;
      const bool complete = now.status() == opb::LOGIN_STATUS_SUCCEEDED;
      EXPECT_TRUE(untouched || complete)
          << o.login_id << " status " << now.status() << " score " << now.score();
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace tally::faults
