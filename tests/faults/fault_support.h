#pragma once

// Helpers of the fault tests (issue 9, "Faults to survive"): throwaway stores a test may kill.
// The login API's calls come from tests/cluster/logins.h; the SMS/e-mail gateway they break is
// common/testing/fake_gateway.h.

#include <sys/types.h>

#include <memory>
#include <string>
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

}  // namespace tally::faults
