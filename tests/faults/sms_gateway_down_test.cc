// Fault 4 of issue 9: the SMS gateway is down for a while, first answering HTTP 503, then not
// accepting connections at all. A job whose gateway comes back within the code's lifetime is
// retried and delivered (and its code completes the login); one whose gateway stays down past
// the code's lifetime goes to the dead-letter stream, the sender's metric counts it, and the
// user finishes the login with an e-mail code instead.
//
// Both channels go through common/testing/fake_gateway.h (the senders' http provider), which
// answers per destination, so one user's SMS can fail while another's gets through.

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/testing/fake_gateway.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::kClusterPassword;

// The shortest code lifetime the OTP service accepts; the dead letter comes after it.
constexpr absl::Duration kCodeTtl = absl::Seconds(30);

std::string SenderMetrics(Cluster& cluster) {
  absl::StatusOr<std::string> body =
      testing::HttpGet(cluster.service("otp-sender-a").metrics_port(), "/metrics");
  return body.ok() ? *body : "";
}

TEST(SmsGatewayDownTest, RetriedUntilBackThenDeadLetteredPastTheCodeLifetime) {
  testing::FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());

  ClusterOptions options;
  options.delivery = "http";
  options.http_url = gateway.url();
  options.metrics = true;
  options.flags["otp"] = {absl::StrCat("--otp_code_ttl=", absl::FormatDuration(kCodeTtl))};
  options.flags["otp-sender"] = {
      "--sms_http_token=faults-gateway-token", "--otp_delivery_timeout=2s",
      "--otp_retry_initial_backoff=200ms", "--otp_retry_max_backoff=1s",
      // Never give up before the code expires: the lifetime decides.
      "--otp_delivery_attempts=1000", "--otp_claim_idle=10s"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());

  const std::string dir = cluster.CreateDirectory();
  const Cluster::User back = cluster.CreateUser(dir, "back");   // gateway returns in time
  const Cluster::User never = cluster.CreateUser(dir, "never"); // gateway stays down for them
  gateway.SetStatus(back.phone, 503);
  gateway.SetStatus(never.phone, 503);

  opb::LoginService::Stub& logins = cluster.logins(0);
  opb::LoginState lost, saved;
  ASSERT_TRUE(StartLogin(logins, dir, "never", &lost).ok());
  ASSERT_TRUE(SubmitPassword(logins, lost.login_id(), kClusterPassword, &lost).ok());
  ASSERT_TRUE(StartLogin(logins, dir, "back", &saved).ok());
  ASSERT_TRUE(SubmitPassword(logins, saved.login_id(), kClusterPassword, &saved).ok());
  ASSERT_EQ(saved.score(), 20);

  const double dead_before =
      MetricSum(SenderMetrics(cluster), "tally_otp_dead_letters_total", {"reason=\"expired\""});
  grpc::Status s = SendOtp(logins, lost.login_id(), otppb::CHANNEL_SMS, &lost);
  ASSERT_TRUE(s.ok()) << Describe(s);
  s = SendOtp(logins, saved.login_id(), otppb::CHANNEL_SMS, &saved);
  ASSERT_TRUE(s.ok()) << Describe(s);

  // 503: the job is retried.
  ASSERT_TRUE(testing::WaitFor([&] { return gateway.Count(back.phone, 503) >= 2; },
                               absl::Seconds(20)))
      << "no retries after HTTP 503";
  // Connection refused: still retried (the sender counts each failed attempt).
  gateway.Stop();
  const double retries_before =
      MetricSum(SenderMetrics(cluster), "tally_otp_deliveries_total", {"outcome=\"retry\""});
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return MetricSum(SenderMetrics(cluster), "tally_otp_deliveries_total",
                         {"outcome=\"retry\""}) >= retries_before + 3;
      },
      absl::Seconds(20)))
      << "no retries while the gateway refuses connections";
  // Back, for one of the two users, well within the code's lifetime.
  gateway.SetStatus(back.phone, 200);
  ASSERT_TRUE(gateway.Start().ok());
  std::string code;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        code = gateway.DeliveredCode(back.phone);
        return !code.empty();
      },
      absl::Seconds(20)))
      << "the SMS was not delivered once the gateway came back";
  s = VerifyOtp(logins, saved.login_id(), code, &saved);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(saved.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(saved.score(), 30);
  // Delivered exactly once.
  EXPECT_EQ(gateway.Count(back.phone, 200), 1);

  // The other SMS is retried until its code expires, then dead-lettered.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return MetricSum(SenderMetrics(cluster), "tally_otp_dead_letters_total",
                         {"reason=\"expired\""}) >= dead_before + 1;
      },
      kCodeTtl + absl::Seconds(30)))
      << "the undeliverable SMS was not dead-lettered";
  EXPECT_GE(MetricSum(SenderMetrics(cluster), "tally_otp_deliveries_total",
                      {"outcome=\"dead\""}),
            1);
  // The queue gauge (refreshed every few seconds) shows it too.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return MetricSum(SenderMetrics(cluster), "tally_otp_dead_letter_stream_length") >= 1;
      },
      absl::Seconds(20)));
  EXPECT_EQ(gateway.Count(never.phone, 200), 0);
  EXPECT_GE(gateway.Count(never.phone, 503), 2);
  // In the (per-cluster) dead-letter stream: the directory, the channel and the masked
  // destination, never the number itself.
  otppb::ListDeadLettersRequest list;
  otppb::ListDeadLettersResponse letters;
  s = cluster.otps().ListDeadLetters(testing::NewContext("", cluster.platform_key()).get(), list,
                                     &letters);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(letters.dead_letters_size(), 1);
  EXPECT_EQ(letters.dead_letters(0).directory_id(), dir);
  EXPECT_EQ(letters.dead_letters(0).channel(), otppb::CHANNEL_SMS);
  EXPECT_TRUE(absl::StrContains(letters.dead_letters(0).reason(), "expired"))
      << letters.dead_letters(0).reason();
  EXPECT_EQ(letters.dead_letters(0).DebugString().find(never.phone), std::string::npos);

  // ListDeadLetters reads the cluster's own dead-letter streams (one per shard of its delivery
  // queue, "{otp-q-N}:dead" in production).
  int64_t dead = 0;
  for (const std::string& stream : cluster.otp_dead_streams()) {
    testing::CommandResult xlen = testing::RunCommand(
        {"/usr/bin/redis-cli", "-u", cluster.options().redis_url, "XLEN", stream});
    ASSERT_EQ(xlen.exit_code, 0) << xlen.output;
    dead += std::stoll(std::string(absl::StripAsciiWhitespace(xlen.output)));
  }
  EXPECT_EQ(dead, 1);

  // The user finishes with e-mail.
  const size_t skip = gateway.Requests().size();
  s = SendOtp(logins, lost.login_id(), otppb::CHANNEL_EMAIL, &lost);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        code = gateway.DeliveredCode(never.email, skip);
        return !code.empty();
      },
      absl::Seconds(20)))
      << "no e-mail code";
  s = VerifyOtp(logins, lost.login_id(), code, &lost);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(lost.status(), opb::LOGIN_STATUS_SUCCEEDED);
  ASSERT_EQ(lost.completed_methods_size(), 2);
  EXPECT_EQ(lost.completed_methods(1), cpb::AUTH_METHOD_EMAIL_OTP);
}

}  // namespace
}  // namespace tally::faults
