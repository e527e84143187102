#include "tools/loadgen/proc_stats.h"

#include <dirent.h>
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
    absl::string_view pid_text = absl::StripAsciiWhitespace(parts.second);
    service.with_children = absl::ConsumeSuffix(&pid_text, "+");
    int pid = 0;
    if (service.name.empty() || !absl::SimpleAtoi(pid_text, &pid) || pid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--service_pids: \"", item, "\" is not name:pid"));
    }
    service.pid = pid;
    services.push_back(service);
  }
  return services;
}

absl::StatusOr<StatFields> ParseStat(absl::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return absl::InvalidArgumentError("no ')' in stat");
  // After ") ": field 3 (state) is index 0, so ppid (4) is index 1, utime (14) index 11,
  // stime (15) 12, cutime (16) 13 and cstime (17) 14.
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  int64_t ppid = 0, utime = 0, stime = 0, cutime = 0, cstime = 0;
  if (fields.size() < 15 || !absl::SimpleAtoi(fields[1], &ppid) ||
      !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime) ||
      !absl::SimpleAtoi(fields[13], &cutime) || !absl::SimpleAtoi(fields[14], &cstime)) {
    return absl::InvalidArgumentError("malformed stat");
  }
  StatFields out;
  out.ppid = static_cast<pid_t>(ppid);
  out.cpu_ticks = utime + stime;
  out.reaped_ticks = cutime + cstime;
  return out;
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
  absl::StatusOr<StatFields> fields = ParseStat(*stat);
  if (!fields.ok()) return fields.status();
  absl::StatusOr<int64_t> rss = ParseStatusKib(*status, "VmRSS");
  if (!rss.ok()) return rss.status();
  absl::StatusOr<int64_t> hwm = ParseStatusKib(*status, "VmHWM");
  if (!hwm.ok()) return hwm.status();
  ProcSample sample;
  sample.cpu_seconds =
      static_cast<double>(fields->cpu_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  sample.rss_kib = *rss;
  sample.hwm_kib = *hwm;
  return sample;
}

absl::StatusOr<ProcSample> SampleService(const WatchedService& service) {
  absl::StatusOr<ProcSample> sample = SampleProcess(service.pid);
  if (!sample.ok() || !service.with_children) return sample;
  absl::StatusOr<std::string> own = ReadWhole(absl::StrCat("/proc/", service.pid, "/stat"));
  if (!own.ok()) return own.status();
  absl::StatusOr<StatFields> parent = ParseStat(*own);
  if (!parent.ok()) return parent.status();
  int64_t ticks = parent->cpu_ticks + parent->reaped_ticks;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return absl::NotFoundError("cannot list /proc");
  while (const dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == service.pid) continue;
    // A child that exited meanwhile is simply not counted here; once reaped it is in the
    // parent's cutime/cstime.
    absl::StatusOr<std::string> stat = ReadWhole(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;
    absl::StatusOr<StatFields> child = ParseStat(*stat);
    if (!child.ok() || child->ppid != service.pid) continue;
    ticks += child->cpu_ticks + child->reaped_ticks;
  }
  closedir(proc);
  sample->cpu_seconds = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return sample;
}

}  // namespace tally::loadgen
