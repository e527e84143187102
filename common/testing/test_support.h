#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Helpers for integration tests that run real processes against the throwaway Redis and
// PostgreSQL that `tools/dev test` starts.
namespace tally::testing {

// The value of an environment variable that `tools/dev test` sets; the test fails (not skips)
// with a clear message when it is missing.
std::string RequiredEnv(const std::string& name);

// Where `tools/dev build` puts the binaries (TALLY_BIN_DIR) and the repository (TALLY_SOURCE_DIR).
std::string BinDir();
std::string SourceDir();

// A loopback TCP port that nothing listens on right now and that no other FreePort() call,
// in this process or in another test process, hands out while this process lives.
int FreePort();

// A unique lower-case suffix for schema names, key prefixes and temporary directories.
std::string UniqueSuffix();

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process with its stdout and stderr captured to a file.
class Subprocess {
 public:
  Subprocess() = default;
  // SIGKILLs a child that is still running. A sanitizer report in the child's output
  // (`tools/dev test --sanitize`) fails the current test.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  absl::Status Start(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& extra_env = {});
  void Signal(int signal);
  // Exit code (128 + n for signal n); DEADLINE_EXCEEDED when still running after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string Output() const;  // everything it printed so far

 private:
  pid_t pid_ = -1;
  std::string program_;
  std::string output_path_;
};

// Runs a command to completion: {exit code, combined output}.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& extra_env = {},
                         absl::Duration timeout = absl::Seconds(60));

// GET http://127.0.0.1:<port><path>; the body, or UNAVAILABLE.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// The first line of `path` as a pid (a daemon's pid file); 0 if there is none.
pid_t PidFromFile(const std::string& path);

// SIGKILLs `pid` (not necessarily our child: a daemon such as redis-server) and waits until
// the kernel has removed it. `what` names it in errors.
absl::Status KillAndWait(pid_t pid, const std::string& what);
// The sum of the samples of Prometheus metric `name` in the text exposition `body` whose label
// set contains every entry of `labels` (e.g. {"outcome=\"skipped\""}); 0 when there are none.
double MetricSum(absl::string_view body, absl::string_view name,
                 const std::vector<std::string>& labels = {});

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

}  // namespace tally::testing
