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
  // "name:pid+": the process and its children, e.g. PostgreSQL's postmaster and the backends
  // it forks per connection.
  bool with_children = false;
};
// "orchestrator:123,credential:456,postgres:789+"; INVALID_ARGUMENT on anything else. Empty →
// empty list.
absl::StatusOr<std::vector<WatchedService>> ParseServicePids(absl::string_view text);

// One look at a process through /proc.
struct ProcSample {
  double cpu_seconds = 0;  // utime + stime
  int64_t rss_kib = 0;     // VmRSS
  int64_t hwm_kib = 0;     // VmHWM: peak resident set
};

// What the run reads from /proc/<pid>/stat, in clock ticks.
struct StatFields {
  pid_t ppid = 0;            // field 4
  int64_t cpu_ticks = 0;     // utime + stime (fields 14 and 15)
  int64_t reaped_ticks = 0;  // cutime + cstime (16 and 17): children waited for
};
// The command name (field 2) may hold spaces and parentheses, so fields are counted after the
// last ')'.
absl::StatusOr<StatFields> ParseStat(absl::string_view stat);
// The value in KiB of a "Name:   1234 kB" line of /proc/<pid>/status.
absl::StatusOr<int64_t> ParseStatusKib(absl::string_view status, absl::string_view name);

absl::StatusOr<ProcSample> SampleProcess(pid_t pid);
// With `with_children`, the CPU also counts the process's live children and the children it
// has reaped, so backends that come and go between two samples are not lost; the memory is the
// parent's alone (PostgreSQL's backends share most of theirs).
absl::StatusOr<ProcSample> SampleService(const WatchedService& service);

}  // namespace tally::loadgen
