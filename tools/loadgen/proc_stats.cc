#include "tools/loadgen/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tally::loadgen {
namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<std::vector<WatchedService>> ParseServicePids(absl::string_view text) {
  std::vector<WatchedService> services;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(item, ':');
    WatchedService service;
    service.name = std::string(absl::StripAsciiWhitespace(parts.first));
    int pid = 0;
    if (service.name.empty() || !absl::SimpleAtoi(parts.second, &pid) || pid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--service_pids: \"", item, "\" is not name:pid"));
    }
    service.pid = pid;
    services.push_back(service);
  }
  return services;
}

absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return absl::InvalidArgumentError("no ')' in stat");
  // After ") ": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InvalidArgumentError("malformed stat");
  }
  return utime + stime;
}

absl::StatusOr<int64_t> ParseStatusKib(absl::string_view status, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) break;
    return value;
  }
  return absl::NotFoundError(absl::StrCat("no ", name, " in status"));
}

absl::StatusOr<ProcSample> SampleProcess(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadWhole(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> status = ReadWhole(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  absl::StatusOr<int64_t> ticks = ParseStatCpuTicks(*stat);
  if (!ticks.ok()) return ticks.status();
  absl::StatusOr<int64_t> rss = ParseStatusKib(*status, "VmRSS");
  if (!rss.ok()) return rss.status();
  absl::StatusOr<int64_t> hwm = ParseStatusKib(*status, "VmHWM");
  if (!hwm.ok()) return hwm.status();
  ProcSample sample;
  sample.cpu_seconds = static_cast<double>(*ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  sample.rss_kib = *rss;
  sample.hwm_kib = *hwm;
  return sample;
}

}  // namespace tally::loadgen
