#include "common/server/server_runner.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <future>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/logging/logging.h"
#include "common/server/peer_channel.h"
#include "common/testing/test_support.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/otp/v1/otp.grpc.pb.h"

ABSL_DECLARE_FLAG(absl::Duration, drain_grace);
ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, metrics_listen);

namespace tally {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// Any service will do: this one holds SendCode until the test releases it.
class SlowService final : public otp::v1::OtpService::Service {
 public:
  grpc::Status SendCode(grpc::ServerContext*, const otp::v1::SendCodeRequest*,
                        otp::v1::SendCodeResponse* response) override {
    ++calls_;
    if (!entered_.HasBeenNotified()) entered_.Notify();
    release_.WaitForNotification();
    response->set_challenge_id("finished");
    return grpc::Status::OK;
  }
  // Answers at once, noting which thread served it.
  grpc::Status ListDeadLetters(grpc::ServerContext*, const otp::v1::ListDeadLettersRequest*,
                               otp::v1::ListDeadLettersResponse*) override {
    absl::MutexLock lock(&mu_);
    serving_threads_.insert(gettid());
    return grpc::Status::OK;
  }
  std::atomic<int> calls_{0};
  absl::Notification entered_;
  absl::Notification release_;
  absl::Mutex mu_;
  absl::flat_hash_set<pid_t> serving_threads_ ABSL_GUARDED_BY(mu_);
};

class ServerRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = absl::StrCat("127.0.0.1:", testing::FreePort());
    options.drain_grace = drain_grace_;
    options.drain_timeout = absl::Seconds(30);
    options.health_interval = absl::Milliseconds(20);
    options.max_message_bytes = 64 * 1024;
    runner_ = std::make_unique<ServerRunner>(options, GetLogger("server-test"));
    runner_->AddService(&service_);
    runner_->AddHealthCheck("fake-store", [this] {
      return store_up_.load() ? absl::OkStatus() : absl::UnavailableError("down");
    });
    ASSERT_TRUE(runner_->Start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service = kReadinessService) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) {
      return HealthCheckResponse::UNKNOWN;
    }
    return response.status();
  }

  grpc::Status SendCode(otp::v1::SendCodeResponse* response, const std::string& destination = "",
                        std::shared_ptr<grpc::Channel> channel = nullptr) {
    auto stub = otp::v1::OtpService::NewStub(channel != nullptr ? channel : channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    otp::v1::SendCodeRequest request;
    request.set_destination(destination);
    return stub->SendCode(&context, request, response);
  }

  absl::Duration drain_grace_ = absl::ZeroDuration();
  SlowService service_;
  std::atomic<bool> store_up_{true};
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerRunnerTest, HealthFollowsTheStoreProbe) {
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(kLivenessService), HealthCheckResponse::SERVING);
  store_up_ = false;
  EXPECT_TRUE(testing::WaitFor([&] { return Health() == HealthCheckResponse::NOT_SERVING; },
                               absl::Seconds(10)));
  // A store outage is not a reason to restart the process.
  EXPECT_EQ(Health(kLivenessService), HealthCheckResponse::SERVING);
  store_up_ = true;
  EXPECT_TRUE(testing::WaitFor([&] { return Health() == HealthCheckResponse::SERVING; },
                               absl::Seconds(10)));
}

TEST_F(ServerRunnerTest, UnimplementedRpcsAnswerUnimplemented) {
  auto stub = otp::v1::OtpService::NewStub(channel_);
  grpc::ClientContext context;
  otp::v1::VerifyCodeResponse response;
  EXPECT_EQ(stub->VerifyCode(&context, otp::v1::VerifyCodeRequest(), &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ServerRunnerTest, ConcurrentCallsReuseTheServersThreads) {
  // gRPC's sync-server defaults let a thread that finished a call exit and start a new one for
  // the next: under 8 callers, hundreds of threads served 1,600 calls, each created and joined.
  constexpr int kCallers = 8;
  constexpr int kCallsEach = 200;
  std::vector<std::thread> callers;
  std::atomic<int> failed{0};
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      auto stub = otp::v1::OtpService::NewStub(channel_);
      for (int n = 0; n < kCallsEach; ++n) {
        grpc::ClientContext context;
        otp::v1::ListDeadLettersResponse response;
        if (!stub->ListDeadLetters(&context, otp::v1::ListDeadLettersRequest(), &response).ok()) {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failed.load(), 0);
  absl::MutexLock lock(&service_.mu_);
  // At most one thread per caller plus the pollers (and a few handing over), never one per call.
  EXPECT_LE(service_.serving_threads_.size(), 2u * kCallers);
}

TEST_F(ServerRunnerTest, OversizedMessagesAreRefused) {
  otp::v1::SendCodeResponse response;
  EXPECT_EQ(SendCode(&response, std::string(100 * 1024, 'x')).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServerRunnerTest, DrainLetsInFlightCallsFinishAndRefusesNewOnes) {
  otp::v1::SendCodeResponse in_flight_response;
  auto in_flight = std::async(std::launch::async, [&] { return SendCode(&in_flight_response); });
  service_.entered_.WaitForNotification();

  auto shutdown = std::async(std::launch::async, [&] { runner_->Shutdown(); });
  // Health turns NOT_SERVING at once, while the call is still running.
  EXPECT_TRUE(testing::WaitFor([&] { return Health() != HealthCheckResponse::SERVING; },
                               absl::Seconds(10)));
  EXPECT_EQ(shutdown.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "shutdown must wait for the in-flight call";

  service_.release_.Notify();
  const grpc::Status status = in_flight.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(in_flight_response.challenge_id(), "finished");
  shutdown.get();

  otp::v1::SendCodeResponse late;
  EXPECT_EQ(SendCode(&late).error_code(), grpc::StatusCode::UNAVAILABLE);
}

class DrainGraceTest : public ServerRunnerTest {
 protected:
  DrainGraceTest() { drain_grace_ = absl::Seconds(3); }
};

// The grace period is what makes a rollout lossless for a client that watches health: it stops
// sending here before gRPC's shutdown would cancel calls that race it.
TEST_F(DrainGraceTest, NotServingWhileStillServingSoWatchingClientsMoveFirst) {
  // How Tally's own services call each other (and what deploy/README.md asks of clients).
  auto watching = MakePeerChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                  grpc::InsecureChannelCredentials());
  service_.release_.Notify();
  otp::v1::SendCodeResponse response;
  ASSERT_TRUE(SendCode(&response, "", watching).ok());

  const absl::Time start = absl::Now();
  auto shutdown = std::async(std::launch::async, [&] { runner_->Shutdown(); });
  ASSERT_TRUE(testing::WaitFor([&] { return Health() != HealthCheckResponse::SERVING; },
                               absl::Seconds(10)));
  // A client that watches health learns it from its health watch, without sending anything
  // (a call sent before that arrives would still be served, which is fine but not the point)...
  EXPECT_TRUE(testing::WaitFor(
      [&] { return watching->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE; },
      absl::Seconds(2)));
  // ...and no longer sends here.
  const int served = service_.calls_;
  EXPECT_EQ(SendCode(&response, "", watching).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_.calls_, served) << "the watching client's call reached the service";
  // ...while one that does not is still served, as long as the grace lasts.
  const grpc::Status late = SendCode(&response);
  if (absl::Now() - start < drain_grace_) {
    EXPECT_TRUE(late.ok()) << late.error_message();
    EXPECT_EQ(service_.calls_, served + 1);
  }
  shutdown.get();
  EXPECT_GE(absl::Now() - start, drain_grace_);
  EXPECT_EQ(SendCode(&response).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(IgnoreSigpipeTest, AWriteToAClosedConnectionFailsInsteadOfKilling) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto write_to_closed = [] {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) _exit(2);
    close(fds[1]);
    const char byte = 'x';
    const bool epipe = write(fds[0], &byte, 1) < 0 && errno == EPIPE;
    _exit(epipe ? 0 : 1);
  };
  EXPECT_EXIT(write_to_closed(), ::testing::KilledBySignal(SIGPIPE), "");
  EXPECT_EXIT(
      {
        IgnoreSigpipe();
        write_to_closed();
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(ServerOptionsTest, DrainGraceIsBounded) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_drain_grace, absl::Seconds(-1));
  EXPECT_FALSE(ServerOptionsFromFlags(50051).ok());
  absl::SetFlag(&FLAGS_drain_grace, absl::Minutes(2));
  EXPECT_FALSE(ServerOptionsFromFlags(50051).ok());
  absl::SetFlag(&FLAGS_drain_grace, absl::Seconds(5));
  auto options = ServerOptionsFromFlags(50051);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->drain_grace, absl::Seconds(5));
}

TEST_F(ServerRunnerTest, MetricsCountCallsByMethodAndCode) {
  auto stub = otp::v1::OtpService::NewStub(channel_);
  grpc::ClientContext context;
  otp::v1::VerifyCodeResponse response;
  stub->VerifyCode(&context, otp::v1::VerifyCodeRequest(), &response);
  const std::string address = runner_->metrics_address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  auto body = testing::HttpGet(port, "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                               "grpc_method=\"/tally.otp.v1.OtpService/VerifyCode\"} 1"));
  EXPECT_THAT(*body, HasSubstr("tally_store_up{store=\"fake-store\"} 1"));
  service_.release_.Notify();
}

TEST(ServerOptionsTest, MetricsPortFollowsTheListenPort) {
  // Defaults come from the flags; with no flags set the service port decides.
  auto options = ServerOptionsFromFlags(50051);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->listen, "0.0.0.0:50051");
  EXPECT_EQ(options->metrics_listen, "0.0.0.0:51051");
}

TEST(ServerOptionsTest, ListenAndMetricsAddressesAreHostAndPort) {
  absl::FlagSaver saver;
  absl::SetFlag(&FLAGS_listen, "[::1]:7000");
  auto v6 = ServerOptionsFromFlags(50051);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->metrics_listen, "[::1]:8000");

  absl::SetFlag(&FLAGS_listen, "no-port");
  EXPECT_EQ(ServerOptionsFromFlags(50051).status().code(), absl::StatusCode::kInvalidArgument);
  absl::SetFlag(&FLAGS_listen, "127.0.0.1:-5");
  EXPECT_EQ(ServerOptionsFromFlags(50051).status().code(), absl::StatusCode::kInvalidArgument);

  // A free port (0) has no metrics port to derive: it must be given, or turned off.
  absl::SetFlag(&FLAGS_listen, "127.0.0.1:0");
  EXPECT_EQ(ServerOptionsFromFlags(50051).status().code(), absl::StatusCode::kInvalidArgument);
  absl::SetFlag(&FLAGS_metrics_listen, "off");
  auto off = ServerOptionsFromFlags(50051);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->metrics_listen, "");
  absl::SetFlag(&FLAGS_metrics_listen, "127.0.0.1:65536");
  EXPECT_EQ(ServerOptionsFromFlags(50051).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally
