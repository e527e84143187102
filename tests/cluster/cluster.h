#pragma once

// The whole Tally cluster as real processes on free loopback ports, for end-to-end, fault and
// load tests: tally-policy, tally-credential, tally-otp (api and senders), tally-passkey and
// orchestrator replicas, against the Redis and PostgreSQL that `tools/dev test` starts (or the
// test's own). Optionally with mutual TLS everywhere and metrics on.

#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/testing/service_process.h"
#include "common/testing/test_keys.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/otp/v1/otp.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::testing {

// The password CreateUser gives every user.
inline constexpr char kClusterPassword[] = "e2e correct horse battery";
// The origin the passkey service accepts (rp id "localhost").
inline constexpr char kClusterOrigin[] = "http://localhost:8080";
// The lock of the default orchestrator flags, short enough to watch one expire.
inline constexpr int kClusterLockoutSeconds = 3;
// Under TLS each has a certificate naming it (Pki::ServiceSan), as the deploy overlays issue.
inline constexpr const char* kClusterServices[] = {"policy", "credential", "otp", "passkey",
                                                    "orchestrator"};
// Shards of the cluster's OTP delivery queue: several, so every run crosses shards.
inline constexpr int kOtpQueueShards = 4;

struct ClusterOptions {
  std::string redis_url;     // default: $TALLY_TEST_REDIS_URL
  // Non-empty: every service on this Redis Cluster (TALLY_REDIS_CLUSTER_NODES, host:port,...)
  // instead of redis_url (common/testing/redis_cluster.h starts one).
  std::string redis_cluster_nodes;
  std::string postgres_url;  // default: $TALLY_TEST_POSTGRES_URL
  int orchestrators = 2;     // "orchestrator-a", "orchestrator-b", ...
  int otp_senders = 1;       // "otp-sender-a", "otp-sender-b", ...
  // 1: "credential"; more: "credential-a", "credential-b", ... on one schema, which the
  // orchestrators reach as one target listing them all.
  int credentials = 1;
  bool tls = false;          // mutual TLS on every server and client
  bool metrics = false;      // each service serves /metrics on Service::metrics_port
  // "outbox" (codes read with WaitForCode) or "http": senders POST SMS and email to http_url.
  std::string delivery = "outbox";
  std::string http_url;
  // Extra flags by service name ("otp-sender-a") or family ("otp-sender", "orchestrator"),
  // appended after the defaults so they win.
  std::map<std::string, std::vector<std::string>> flags;
  bool start = true;  // false: construct, adjust, then Start()
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts every service and waits until each accepts connections; false (with a test
  // failure naming the service and its output) otherwise.
  bool Start();
  bool ready() const { return ready_; }

  ServiceProcess& service(const std::string& name);
  // The credential replicas' names ({"credential"} unless ClusterOptions::credentials > 1).
  std::vector<std::string> credential_names() const;
  std::vector<std::string> service_names() const;
  // Starts `name` again with the same command line and port, and waits for it.
  absl::Status Restart(const std::string& name);
  // Signals `name` and waits for it to exit (SIGKILL after 10 s).
  void Stop(const std::string& name, int signal = SIGTERM);
  // Whether `name` reports SERVING on the health service "" (readiness) right now.
  bool Serving(const std::string& name);

  // Channels and the stubs below are made on first use; safe from several threads.
  std::shared_ptr<grpc::Channel> Channel(const std::string& name) {
    return service(name).channel();
  }
  // A new channel that watches the service's readiness (client-side gRPC health checking,
  // MakePeerChannel) and fails calls fast with UNAVAILABLE while it is NOT_SERVING, as
  // deploy/README.md asks of clients: a draining server is left before it stops taking calls.
  std::shared_ptr<grpc::Channel> WatchingChannel(const std::string& name);
  // The test's client certificate ("client": a login client or an admin tool, named by no
  // SAN), or under TLS a service's own (kClusterServices), to call as that service would.
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(
      const std::string& certificate = "client") const;
  // A new channel to `name` presenting `certificate` (see ClientCredentials).
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& name,
                                           const std::string& certificate);
  // Flags a client (tallyctl) needs to reach the services: --tls_* under TLS, else none.
  std::vector<std::string> ClientTlsFlags() const;

  orchestrator::v1::LoginService::Stub& logins(int replica = 0);
  orchestrator::v1::SessionService::Stub& sessions();
  policy::v1::DirectoryService::Stub& directories();
  policy::v1::PolicyService::Stub& policies();
  credential::v1::CredentialService::Stub& users();
  otp::v1::OtpService::Stub& otps();
  passkey::v1::PasskeyService::Stub& passkeys();

  // Set-up through the platform key; failures are test failures.
  std::string CreateDirectory(policy::v1::Tier tier = policy::v1::TIER_FREEMIUM);
  struct User {
    std::string id;
    std::string username;
    std::string phone;
    std::string email;
  };
  // A user with kClusterPassword and a phone and email address unique to this run.
  User CreateUser(const std::string& directory, const std::string& username,
                  std::vector<std::string> roles = {"user"});

  // Outbox delivery: lines written so far, and the code of the first message to
  // `destination` on `channel` ("sms" or "email") after `mark` (empty after 20 s).
  size_t OutboxMark() const;
  std::string WaitForCode(size_t mark, const std::string& channel,
                          const std::string& destination) const;
  // The text of the first message to `destination` on `channel` after `mark` that `accept`s
  // (any, when null): a code's or a notice's; empty after 20 s.
  std::string WaitForMessage(size_t mark, const std::string& channel,
                             const std::string& destination,
                             const std::function<bool(const std::string&)>& accept = nullptr) const;

  // Shared by every service; platform_key() is keys().platform_key().
  const TestKeys& keys() const { return *keys_; }
  // For more services of the test's own that trust the same tokens.
  const std::shared_ptr<const TestKeys>& shared_keys() const { return keys_; }
  const std::string& platform_key() const { return keys_->platform_key(); }
  const std::string& temp_path() const { return temp_.path(); }
  // The OTP delivery queue of this cluster (--otp_queue) and its shards' dead-letter streams.
  const std::string& otp_queue() const { return otp_queue_; }
  std::vector<std::string> otp_dead_streams() const;
  const ClusterOptions& options() const { return options_; }

 private:
  void Add(const std::string& name, const std::string& family, const std::string& binary,
           std::vector<std::string> flags);
  bool Prepare();
  std::vector<std::string> Lines() const;

  ClusterOptions options_;
  TempDir temp_;
  std::shared_ptr<const TestKeys> keys_;
  std::string outbox_path_;
  std::string otp_queue_;
  std::vector<std::unique_ptr<ServiceProcess>> services_;  // in start order

  std::mutex stubs_mu_;  // guards logins_ and sessions_
  std::map<int, std::unique_ptr<orchestrator::v1::LoginService::Stub>> logins_;
  std::unique_ptr<orchestrator::v1::SessionService::Stub> sessions_;
  std::unique_ptr<policy::v1::DirectoryService::Stub> directories_;
  std::unique_ptr<policy::v1::PolicyService::Stub> policies_;
  std::unique_ptr<credential::v1::CredentialService::Stub> users_;
  std::unique_ptr<otp::v1::OtpService::Stub> otps_;
  std::unique_ptr<passkey::v1::PasskeyService::Stub> passkeys_;
  bool prepared_ = false;
  bool ready_ = false;
};

// "orchestrator-a" for replica 0, "orchestrator-b" for 1, ...
std::string ReplicaName(const std::string& family, int replica);

// A test suite whose tests share one cluster: started before the first test with
// `Suite::Options()` (the defaults unless the suite declares its own), stopped after the last.
// A test fails at once when the cluster did not start. A suite derived from another one starts
// its own cluster with a SetUpTestSuite() that calls StartCluster(its options).
template <typename Suite>
class ClusterTest : public ::testing::Test {
 public:
  static ClusterOptions Options() { return {}; }
  static void SetUpTestSuite() { StartCluster(Suite::Options()); }
  static void TearDownTestSuite() { cluster_.reset(); }

 protected:
  static void StartCluster(ClusterOptions options) {
    cluster_ = std::make_unique<Cluster>(std::move(options));
  }
  void SetUp() override { ASSERT_TRUE(cluster_->ready()) << "the cluster did not start"; }
  static Cluster& cluster() { return *cluster_; }

 private:
  static inline std::unique_ptr<Cluster> cluster_;
};

}  // namespace tally::testing
