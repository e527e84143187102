// Fault 5 of issue 9: an orchestrator replica and an OTP sender are SIGKILLed in the middle of a
// login. The login lives in Redis, so the other replica finishes it; the delivery job the dead
// sender held stays pending in the stream's consumer group, and the other sender takes it over
// once it has been idle for --otp_claim_idle and delivers it (exactly once).
//
// To kill the sender that holds the job, the gateway first refuses that user's SMS (503): the
// holder keeps it pending and retrying, and says so in its log.

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fake_gateway.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace otppb = ::tally::otp::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::kClusterPassword;

TEST(ReplicaKilledTest, OtherReplicaFinishesTheLoginAndOtherSenderDeliversThePendingJob) {
  testing::FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  ClusterOptions options;
  options.orchestrators = 2;
  options.otp_senders = 2;
  options.delivery = "http";
  options.http_url = gateway.url();
  options.flags["otp-sender"] = {
      "--sms_http_token=faults-gateway-token", "--otp_delivery_timeout=1s",
      "--otp_retry_initial_backoff=200ms", "--otp_retry_max_backoff=500ms",
      "--otp_delivery_attempts=1000",
      // A job untouched this long is taken over: short, so the test sees it happen.
      "--otp_claim_idle=3s", "--otp_claim_interval=500ms"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());

  const std::string dir = cluster.CreateDirectory();
  const Cluster::User ivy = cluster.CreateUser(dir, "ivy");
  gateway.SetStatus(ivy.phone, 503);

  // Password and the SMS request on replica B.
  opb::LoginService::Stub& b = cluster.logins(1);
  opb::LoginState state;
  ASSERT_TRUE(StartLogin(b, dir, "ivy", &state).ok());
  const std::string login = state.login_id();
  grpc::Status s = SubmitPassword(b, login, kClusterPassword, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(state.score(), 20);
  s = SendOtp(b, login, otppb::CHANNEL_SMS, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);

  // Which sender holds the job: the one retrying it.
  std::string holder, other;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        for (const char* name : {"otp-sender-a", "otp-sender-b"}) {
          if (absl::StrContains(cluster.service(name).process().Output(), "attempt 1 failed")) {
            holder = name;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20)))
      << "no sender took the job";
  other = holder == "otp-sender-a" ? "otp-sender-b" : "otp-sender-a";
  ASSERT_GE(gateway.Count(ivy.phone, 503), 1);

  // Both die mid-flow, without a chance to clean up.
  cluster.Stop(holder, SIGKILL);
  cluster.Stop("orchestrator-b", SIGKILL);
  EXPECT_FALSE(cluster.service(holder).process().running());
  EXPECT_FALSE(cluster.service("orchestrator-b").process().running());

  // The gateway works again; only the surviving sender can deliver now.
  gateway.SetStatus(ivy.phone, 200);
  std::string code;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        code = gateway.DeliveredCode(ivy.phone);
        return !code.empty();
      },
      absl::Seconds(30)))
      << "the pending job was not taken over:\n"
      << cluster.service(other).process().Output();
  EXPECT_TRUE(absl::StrContains(cluster.service(other).process().Output(), "reclaimed"));

  // Replica A finishes the login B started.
  opb::LoginService::Stub& a = cluster.logins(0);
  s = GetLogin(a, login, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.score(), 20);
  s = VerifyOtp(a, login, code, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(state.score(), 30);
  opb::ValidateSessionResponse claims;
  s = ValidateSession(cluster.sessions(), state.session().token(), &claims);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(claims.user_id(), ivy.id);
  EXPECT_EQ(claims.level(), 30);
  // Delivered once: the taken-over job was acknowledged, not sent again.
  EXPECT_EQ(gateway.Count(ivy.phone, 200), 1);

  // A killed replica started again serves logins of its own.
  ASSERT_TRUE(cluster.Restart("orchestrator-b").ok());
  ASSERT_TRUE(testing::WaitFor([&] { return cluster.Serving("orchestrator-b"); },
                               absl::Seconds(20)));
  s = StartLogin(cluster.logins(1), dir, "ivy", &state);
  EXPECT_TRUE(s.ok()) << Describe(s);
}

}  // namespace
}  // namespace tally::faults
