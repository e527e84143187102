#include "tests/faults/fault_support.h"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

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

PasswordLoginLoad::PasswordLoginLoad(testing::Cluster& cluster, std::string directory,
                                     std::string right_user, std::string wrong_user,
                                     absl::Duration deadline)
    : directory_(std::move(directory)),
      right_user_(std::move(right_user)),
      wrong_user_(std::move(wrong_user)),
      deadline_(deadline) {
  // Stubs made here, before the threads: the cluster creates them on first use.
  opb::LoginService::Stub* a = &cluster.logins(0);
  opb::LoginService::Stub* b = &cluster.logins(1);
  threads_.emplace_back([this, a] { Run(false, *a); });
  threads_.emplace_back([this, b] { Run(true, *b); });
}

PasswordLoginLoad::~PasswordLoginLoad() { Stop(); }

void PasswordLoginLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

int PasswordLoginLoad::Count(grpc::StatusCode code, bool succeeded) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const Outcome& o : outcomes_) {
    n += o.code == code && (!succeeded || o.status == opb::LOGIN_STATUS_SUCCEEDED);
  }
  return n;
}

int PasswordLoginLoad::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(outcomes_.size());
}

std::vector<PasswordLoginLoad::Outcome> PasswordLoginLoad::outcomes() {
  std::lock_guard<std::mutex> lock(mu_);
  return outcomes_;
}

void PasswordLoginLoad::Run(bool wrong, opb::LoginService::Stub& stub) {
  while (!stop_) {
    Outcome o;
    o.wrong_password = wrong;
    o.start = absl::Now();
    opb::LoginState state;
    grpc::Status s = StartLogin(stub, directory_, wrong ? wrong_user_ : right_user_, &state,
                                deadline_);
    o.longest_call = absl::Now() - o.start;
    if (s.ok()) {
      o.login_id = state.login_id();
      const absl::Time second = absl::Now();
      s = SubmitPassword(stub, state.login_id(),
                         wrong ? "not the password at all" : testing::kClusterPassword, &state,
                         deadline_);
      o.longest_call = std::max(o.longest_call, absl::Now() - second);
    }
    o.end = absl::Now();
    o.code = s.error_code();
    o.message = s.error_message();
    if (s.ok()) {
      o.status = state.status();
      o.step = state.last_step().outcome();
      o.session_id = state.session().session_id();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      outcomes_.push_back(std::move(o));
    }
    // A breather, so two cores shared with the cluster are not all hashing.
    absl::SleepFor(absl::Milliseconds(30));
  }
}

}  // namespace tally::faults
