#include "tests/faults/fault_support.h"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>

#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tally::faults {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Dev() { return absl::StrCat(testing::SourceDir(), "/tools/dev"); }

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// The first line of `path` as a pid; 0 if there is none.
pid_t PidFromFile(const std::string& path) {
  std::string text = ReadFile(path);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  int pid = 0;
  if (lines.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(lines[0]), &pid)) return 0;
  return pid;
}

absl::Status KillAndWait(pid_t pid, const std::string& what) {
  if (pid <= 0) return absl::FailedPreconditionError(absl::StrCat(what, ": no pid"));
  if (kill(pid, SIGKILL) != 0) {
    return absl::InternalError(absl::StrCat(what, ": kill failed, errno ", errno));
  }
  // Not our child: poll until the kernel has removed it.
  if (!testing::WaitFor([&] { return !Alive(pid); }, absl::Seconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat(what, " still alive after SIGKILL"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

ScratchRedis::ScratchRedis(bool append_only)
    : dir_(absl::StrCat(temp_.path(), "/redis")),
      port_(testing::FreePort()),
      append_only_(append_only) {}

ScratchRedis::~ScratchRedis() { (void)testing::RunCommand({Dev(), "redis-stop", dir_}); }

absl::Status ScratchRedis::Start() {
  testing::CommandResult r = testing::RunCommand(
      {Dev(), "redis-start", dir_, absl::StrCat(port_), append_only_ ? "yes" : "no"});
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("redis-start: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchRedis::Kill() {
  return KillAndWait(PidFromFile(absl::StrCat(dir_, "/redis.pid")), "redis-server");
}

absl::StatusOr<std::string> ScratchRedis::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p",
                                   absl::StrCat(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::CommandResult r = testing::RunCommand(argv, {}, absl::Seconds(10));
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("redis-cli: ", r.output));
  return r.output;
}

std::string ScratchRedis::url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

// ---------------------------------------------------------------------------------------------

ScratchPostgres::ScratchPostgres()
    : dir_(absl::StrCat(temp_.path(), "/pg")), port_(testing::FreePort()) {}

ScratchPostgres::~ScratchPostgres() { (void)testing::RunCommand({Dev(), "pg-stop", dir_}); }

absl::Status ScratchPostgres::Start() {
  // After a kill -9 the old backends exit once they notice their postmaster is gone; until
  // then the shared memory is in use and a new postmaster refuses to start.
  testing::CommandResult r;
  const bool started = testing::WaitFor(
      [&] {
        r = testing::RunCommand({Dev(), "pg-start", dir_, absl::StrCat(port_)}, {},
                                absl::Seconds(90));
        return r.exit_code == 0;
      },
      absl::Seconds(60));
  if (!started) return absl::UnavailableError(absl::StrCat("pg-start: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchPostgres::Stop() {
  testing::CommandResult r = testing::RunCommand({Dev(), "pg-stop", dir_});
  if (r.exit_code != 0) return absl::InternalError(absl::StrCat("pg-stop: ", r.output));
  return absl::OkStatus();
}

absl::Status ScratchPostgres::KillPostmaster() {
  return KillAndWait(PidFromFile(absl::StrCat(dir_, "/data/postmaster.pid")), "postmaster");
}

absl::StatusOr<std::string> ScratchPostgres::Query(const std::string& sql) const {
  testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/psql", "-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U", "postgres", "-d",
       "postgres", "-Atc", sql},
      {}, absl::Seconds(20));
  if (r.exit_code != 0) return absl::UnavailableError(absl::StrCat("psql: ", r.output));
  return std::string(absl::StripAsciiWhitespace(r.output));
}

std::string ScratchPostgres::url() const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/postgres");
}

// ---------------------------------------------------------------------------------------------

HttpGateway::HttpGateway() : port_(testing::FreePort()) {
  statuses_["default"] = 200;
  WriteControl();
}

HttpGateway::~HttpGateway() { Stop(); }

absl::Status HttpGateway::Start() {
  Stop();
  process_ = std::make_unique<testing::Subprocess>();
  absl::Status s = process_->Start(
      {"/usr/bin/python3", absl::StrCat(testing::SourceDir(), "/tests/faults/http_gateway.py"),
       absl::StrCat(port_), absl::StrCat(temp_.path(), "/requests.jsonl"),
       absl::StrCat(temp_.path(), "/control.json")});
  if (!s.ok()) return s;
  // Up once it accepts connections (HttpGet of any path answers, 404 included).
  if (!testing::WaitFor([&] { return testing::HttpGet(port_, "/ready").ok(); },
                        absl::Seconds(20))) {
    return absl::UnavailableError(absl::StrCat("gateway did not start: ", process_->Output()));
  }
  return absl::OkStatus();
}

void HttpGateway::Stop() {
  if (process_ != nullptr && process_->running()) {
    process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(10));
  }
  process_.reset();
}

void HttpGateway::SetStatus(const std::string& destination, int status) {
  statuses_[destination] = status;
  WriteControl();
}

void HttpGateway::WriteControl() {
  // Written aside and renamed, so the gateway never reads half a file.
  const std::string path = absl::StrCat(temp_.path(), "/control.json");
  const std::string next = absl::StrCat(path, ".next");
  std::ofstream(next) << nlohmann::json(statuses_).dump();
  std::rename(next.c_str(), path.c_str());
}

std::vector<HttpGateway::Request> HttpGateway::Requests() const {
  std::vector<Request> requests;
  std::istringstream in(ReadFile(absl::StrCat(temp_.path(), "/requests.jsonl")));
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    Request r;
    r.to = j.value("to", "");
    r.text = j.value("text", "");
    r.status = j.value("status", 0);
    requests.push_back(std::move(r));
  }
  return requests;
}

std::string HttpGateway::DeliveredCode(const std::string& to, size_t skip) const {
  static const std::regex kCode("code is:? ([0-9]{6})\\b");
  std::vector<Request> requests = Requests();
  for (size_t i = skip; i < requests.size(); ++i) {
    const Request& r = requests[i];
    std::smatch match;
    if (r.to == to && r.status >= 200 && r.status < 300 &&
        std::regex_search(r.text, match, kCode)) {
      return match[1];
    }
  }
  return "";
}

int HttpGateway::Count(const std::string& to, int status) const {
  int n = 0;
  for (const Request& r : Requests()) n += r.to == to && r.status == status;
  return n;
}

std::string HttpGateway::url() const { return absl::StrCat("http://127.0.0.1:", port_, "/sms"); }

}  // namespace tally::faults
