#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally::loadgen {

// A service process the run watches (--service_pids=name:pid,...).
struct WatchedService {
  std::string name;
  pid_t pid = 0;
};
// "orchestrator:123,credential:456"; INVALID_ARGUMENT on anything else. Empty → empty list.
absl::StatusOr<std::vector<WatchedService>> ParseServicePids(absl::string_view text);

// One look at a process through /proc.
struct ProcSample {
  double cpu_seconds = 0;  // utime + stime
  int64_t rss_kib = 0;     // VmRSS
  int64_t hwm_kib = 0;     // VmHWM: peak resident set
};

// utime + stime (fields 14 and 15) of /proc/<pid>/stat, in clock ticks. The command name
// (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat);
// The value in KiB of a "Name:   1234 kB" line of /proc/<pid>/status.
absl::StatusOr<int64_t> ParseStatusKib(absl::string_view status, absl::string_view name);

absl::StatusOr<ProcSample> SampleProcess(pid_t pid);

}  // namespace tally::loadgen
