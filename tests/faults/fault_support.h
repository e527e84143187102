#pragma once

// Helpers of the fault tests (issue 9, "Faults to survive"): throwaway stores a test may kill.
// The login API's calls come from tests/cluster/logins.h; the SMS/e-mail gateway they break is
// common/testing/fake_gateway.h.

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/test_support.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally::faults {

// A Redis of the test's own (tools/dev redis-start) on a free port in a temporary directory,
// so it can be killed without disturbing the shared TALLY_TEST_REDIS_URL. Stopped on
// destruction.
class ScratchRedis {
 public:
  explicit ScratchRedis(bool append_only);
  ~ScratchRedis();
  ScratchRedis(const ScratchRedis&) = delete;
  ScratchRedis& operator=(const ScratchRedis&) = delete;

  // Starts it (again, on the same directory and port: with AOF it reloads its data).
  absl::Status Start();
  // SIGKILL, and waits until the process is gone.
  absl::Status Kill();
  // redis-cli against it; the reply text.
  absl::StatusOr<std::string> Cli(const std::vector<std::string>& args) const;

  std::string url() const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  testing::TempDir temp_;
  std::string dir_;
  int port_;
  bool append_only_;
};

// A PostgreSQL of the test's own (tools/dev pg-start) on a free port in a temporary
// directory. Stopped on destruction.
class ScratchPostgres {
 public:
  ScratchPostgres();
  ~ScratchPostgres();
  ScratchPostgres(const ScratchPostgres&) = delete;
  ScratchPostgres& operator=(const ScratchPostgres&) = delete;

  // Starts it; after a crash it retries while the dead postmaster's backends still exit.
  absl::Status Start();
  // pg_ctl stop -m fast.
  absl::Status Stop();
  // kill -9 of the postmaster (pid from data/postmaster.pid); waits until it is gone.
  absl::Status KillPostmaster();
  // psql -Atc <sql>; the output.
  absl::StatusOr<std::string> Query(const std::string& sql) const;

  std::string url() const;
  int port() const { return port_; }

 private:
  testing::TempDir temp_;
  std::string dir_;
  int port_;
};

namespace opb = ::tally::orchestrator::v1;

// The cluster's login calls and the metrics sum, as every fault test uses them.
using testing::Describe;
using testing::FinishPasskey;
using testing::GetLogin;
using testing::kCallTimeout;
using testing::LoginWithPasswordAndSms;
using testing::MetricSum;
using testing::PasskeyLogin;
using testing::RegisterPasskey;
using testing::SendOtp;
using testing::StartLogin;
using testing::StartPasskey;
using testing::SubmitPassword;
using testing::ValidateSession;
using testing::VerifyOtp;

// Password-only logins (a Professional directory: the password's 20 points suffice) as a
// background load from two threads, one per orchestrator replica ("orchestrator-a" and "-b"):
// one with the right password of `right_user`, one with a wrong password for `wrong_user`,
// each call with `deadline`, a short breather between logins, until Stop().
class PasswordLoginLoad {
 public:
  // What one login ended with.
  struct Outcome {
    std::string login_id;
    bool wrong_password = false;
    grpc::StatusCode code = grpc::StatusCode::OK;  // of the first failed call, else OK
    std::string message;
    opb::LoginStatus status = opb::LOGIN_STATUS_UNSPECIFIED;
    opb::StepOutcome step = opb::STEP_OUTCOME_UNSPECIFIED;
    std::string session_id;
    absl::Time start;             // of its first call
    absl::Time end;               // of its last call
    absl::Duration longest_call;  // against the deadline
  };

  PasswordLoginLoad(testing::Cluster& cluster, std::string directory, std::string right_user,
                    std::string wrong_user, absl::Duration deadline = absl::Seconds(10));
  ~PasswordLoginLoad();
  PasswordLoginLoad(const PasswordLoginLoad&) = delete;
  PasswordLoginLoad& operator=(const PasswordLoginLoad&) = delete;

  void Stop();
  // Logins that ended with `code` (and with `succeeded`, only those that logged in).
  int Count(grpc::StatusCode code, bool succeeded);
  int Succeeded() { return Count(grpc::StatusCode::OK, true); }
  int Finished();
  std::vector<Outcome> outcomes();
  absl::Duration deadline() const { return deadline_; }

 private:
  void Run(bool wrong, opb::LoginService::Stub& stub);

  const std::string directory_, right_user_, wrong_user_;
  const absl::Duration deadline_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> outcomes_;
  std::vector<std::thread> threads_;
};

}  // namespace tally::faults
