#pragma once

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/testing/test_keys.h"
#include "common/testing/test_support.h"
#include "grpc/health/v1/health.grpc.pb.h"

// One Tally service binary as a child process of a test, on free loopback ports: the launcher
// every integration, end-to-end and fault test starts services with (tests/cluster composes
// them into the whole cluster).
namespace tally::testing {

struct ServiceOptions {
  std::string binary{};  // under BinDir(): "tally-policy"
  std::string name{};    // in messages; default: `binary`
  // After the launcher's own flags (--listen, --metrics_listen, drain and health timing), so a
  // flag given here wins.
  std::vector<std::string> flags{};
  // TALLY_POSTGRES_URL and TALLY_REDIS_URL, always set (empty: none), so a store URL in the
  // test's own environment never leaks into the service.
  std::string postgres_url{};
  std::string redis_url{};
  // Shared with other services (a cluster); null: the launcher makes keys of its own.
  std::shared_ptr<const TestKeys> keys{};
  // On top of the keys' and stores' variables; an entry here wins.
  std::map<std::string, std::string> env{};
  bool metrics = true;  // serve /metrics on metrics_port(), else --metrics_listen=off
  // What Start() waits for: grpc.health.v1 SERVING, or only a connection (for a service whose
  // stores are down on purpose).
  enum class Ready { kServing, kConnected };
  Ready ready = Ready::kServing;
  absl::Duration start_timeout = absl::Seconds(60);
  absl::Duration health_check_interval = absl::Milliseconds(100);
  absl::Duration drain_timeout = absl::Seconds(2);
  // The client side (mutual TLS); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials{};
};

class ServiceProcess {
 public:
  // Picks the ports and, without options.keys, makes the keys (a test failure if that fails).
  explicit ServiceProcess(ServiceOptions options);
  // SIGKILLs it if it still runs (Stop() first for a graceful end: a drain takes its time).
  ~ServiceProcess() = default;
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // Starts the binary and waits until it is ready; otherwise an error with its output.
  absl::Status Start() {
    absl::Status launched = Launch();
    return launched.ok() ? WaitReady() : launched;
  }
  // The two halves of Start(), so that several services start side by side.
  absl::Status Launch();
  absl::Status WaitReady();
  // Signals it and waits for it to exit: its exit code; FAILED_PRECONDITION when it does not
  // run, DEADLINE_EXCEEDED when it still ran after `timeout` (it is SIGKILLed then).
  absl::StatusOr<int> Stop(int signal = SIGTERM, absl::Duration timeout = absl::Seconds(10));
  // Stops it if it runs, then starts it again with the same command line and ports.
  absl::Status Restart();
  // Its grpc.health.v1 Check(`service`) answer right now ("": readiness); UNKNOWN when the
  // call fails.
  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service = "");
  bool Serving() { return Health() == grpc::health::v1::HealthCheckResponse::SERVING; }

  // A channel to it with options.credentials, made on first use; safe from several threads.
  std::shared_ptr<grpc::Channel> channel();
  // The /metrics text; "" when it cannot be read.
  std::string Metrics() const;

  const std::string& name() const { return options_.name; }
  std::string address() const;
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // 0 without metrics
  const std::vector<std::string>& argv() const { return argv_; }
  const TestKeys& keys() const { return *options_.keys; }
  Subprocess& process() { return *process_; }
  std::string Output() const { return process_->Output(); }

 private:
  ServiceOptions options_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::vector<std::string> argv_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Subprocess> process_ = std::make_unique<Subprocess>();
  absl::Mutex mu_;  // guards channel_
  std::shared_ptr<grpc::Channel> channel_;
};

// A context with a deadline and, when given, a bearer token and/or the platform key.
std::unique_ptr<grpc::ClientContext> NewContext(const std::string& token = "",
                                                const std::string& platform_key = "",
                                                absl::Duration timeout = absl::Seconds(15));

}  // namespace tally::testing
