#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/testing/fake_gateway.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tally/otp/v1/otp.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::loadgen {

// The login kinds the load generator drives ("mixed" is a run over all four).
enum class Scenario { kPassword, kPasswordSms, kPasswordEmail, kPasskey };
inline constexpr Scenario kAllScenarios[] = {Scenario::kPassword, Scenario::kPasswordSms,
                                             Scenario::kPasswordEmail, Scenario::kPasskey};
std::string ScenarioName(Scenario scenario);
absl::StatusOr<Scenario> ParseScenario(absl::string_view name);

struct Endpoints {
  std::string orchestrator = "127.0.0.1:50050";
  std::string policy = "127.0.0.1:50051";
  std::string credential = "127.0.0.1:50052";
  std::string otp = "127.0.0.1:50053";  // only for the probes; empty: skip them
  std::string passkey = "127.0.0.1:50054";
};

struct DriverOptions {
  Endpoints endpoints;
  std::string platform_key;
  std::string password = "loadgen correct horse battery staple";
  std::string origin = "http://localhost:8080";  // the passkey service's --rp_origins
  int channels = 4;  // separate HTTP/2 connections to the orchestrator
  absl::Duration rpc_timeout = absl::Seconds(10);
  absl::Duration code_timeout = absl::Seconds(10);
};

// A user the load generator logs in. Each has a phone number and an e-mail address of its
// own (the OTP service caps sends per destination) and, in the passkey pool, a software
// authenticator with a registered passkey.
struct LoadUser {
  std::string id;
  std::string username;
  std::string phone;
  std::string email;
  std::unique_ptr<webauthn::testing::SoftAuthenticator> authenticator;
};

// One directory with its users for one scenario. Exclusive pools hand a user to one login at a
// time: an OTP login waits for "the" code of its destination and a passkey's signature counter
// must grow, so those never run two logins of one user at once.
class UserPool {
 public:
  UserPool(Scenario scenario, std::string directory_id, std::vector<LoadUser> users);
  Scenario scenario() const { return scenario_; }
  const std::string& directory_id() const { return directory_id_; }
  size_t size() const { return users_.size(); }
  LoadUser& user(size_t index) { return users_[index]; }

  // A user index, waiting up to `wait` for one to come free; -1 when none did.
  int Acquire(absl::Duration wait);
  void Release(int index);

 private:
  const Scenario scenario_;
  const std::string directory_id_;
  std::vector<LoadUser> users_;
  const bool exclusive_;
  absl::Mutex mu_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

// What one login did: every step that returned OK with its latency, and how it ended.
struct LoginOutcome {
  bool succeeded = false;
  std::string error;       // empty, a gRPC code name ("RESOURCE_EXHAUSTED") or an outcome
  std::string error_step;  // the step that failed
  std::vector<std::pair<std::string, double>> steps;  // step → microseconds
};

// Talks to the cluster: set-up through the platform key, then logins through the
// orchestrator exactly as a login page would.
class LoginDriver {
 public:
  LoginDriver(DriverOptions options, testing::FakeGateway& gateway);

  const DriverOptions& options() const { return options_; }

  // A directory for `scenario` with `users` users (created `parallelism` at a time); passkey
  // users register their passkey after a password login. `run` makes names unique.
  absl::StatusOr<std::unique_ptr<UserPool>> Setup(Scenario scenario, int users, int parallelism,
                                                  const std::string& run);

  // Called around each RPC of a login (before = true, then false), outside its timing; the
  // probes count Redis round trips per step with it.
  using StepHook = std::function<void(const std::string& step, bool before)>;

  // One whole login of `user` (channel `lane` picks the orchestrator connection).
  LoginOutcome Login(UserPool& pool, LoadUser& user, int lane, const StepHook* hook = nullptr);

  // Stubs for probes and set-up.
  orchestrator::v1::LoginService::Stub& logins(int lane);
  policy::v1::PolicyService::Stub& policies() { return *policies_; }
  credential::v1::CredentialService::Stub& users() { return *users_; }
  passkey::v1::PasskeyService::Stub& passkeys() { return *passkeys_; }
  otp::v1::OtpService::Stub* otps() { return otps_.get(); }  // null without an OTP address

  std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer = "",
                                               bool platform = false) const;

 private:
  absl::StatusOr<std::string> CreateDirectory(Scenario scenario, const std::string& run);
  absl::Status Configure(Scenario scenario, const std::string& directory_id);
  absl::Status CreateUser(const std::string& directory_id, LoadUser& user);
  // A password login (the pool's settings let a password reach the level) and the passkey
  // registration with its session token.
  absl::Status RegisterPasskey(const std::string& directory_id, LoadUser& user);

  const DriverOptions options_;
  testing::FakeGateway& gateway_;  // where the senders deliver the codes
  std::vector<std::unique_ptr<orchestrator::v1::LoginService::Stub>> logins_;
  std::unique_ptr<policy::v1::DirectoryService::Stub> directories_;
  std::unique_ptr<policy::v1::PolicyService::Stub> policies_;
  std::unique_ptr<credential::v1::CredentialService::Stub> users_;
  std::unique_ptr<passkey::v1::PasskeyService::Stub> passkeys_;
  std::unique_ptr<otp::v1::OtpService::Stub> otps_;
};

// "RESOURCE_EXHAUSTED" for a gRPC status code.
std::string CodeName(grpc::StatusCode code);

}  // namespace tally::loadgen
