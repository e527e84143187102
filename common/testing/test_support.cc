#include "common/testing/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/sanitizer_report.h"
#include "gtest/gtest.h"

namespace tally::testing {

std::string RequiredEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    ADD_FAILURE() << name << " is not set: run the tests with `tools/dev test`, which starts "
                  << "throwaway Redis and PostgreSQL and sets it";
    return "";
  }
  return value;
}

std::string BinDir() { return RequiredEnv("TALLY_BIN_DIR"); }
std::string SourceDir() { return RequiredEnv("TALLY_SOURCE_DIR"); }

namespace {

// Reserves `port` for this process's lifetime: an exclusive flock on /tmp/tally-test-ports/<port>
// that the kernel drops when the process exits, however it exits. Tests run side by side (ctest
// -j) and pick ports at random: without it two of them could pick the same port before either
// server binds it. Returns the descriptor that holds the reservation; kTaken when another
// process (or an earlier pick of this one: flock locks belong to the open file, not the
// process) holds it; kUnreserved when the lock file cannot be opened.
constexpr int kTaken = -1;
constexpr int kUnreserved = -2;
int ReservePort(int port) {
  static const char kDir[] = "/tmp/tally-test-ports";
  static const bool made = [] {
    mkdir(kDir, 01777);
    chmod(kDir, 01777);  // every user's tests share it (mkdir applies the umask)
    return true;
  }();
  (void)made;
  const std::string path = absl::StrCat(kDir, "/", port);
  // CLOEXEC: a service a test starts must not inherit, and so keep, the reservation.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return kUnreserved;  // the bind check alone decides
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return kTaken;
  }
  return fd;  // stays open, and locked, until the process exits
}

}  // namespace

int FreePort() {
  // Below Linux's ephemeral range (32768-60999): a port the kernel hands out (bind to port 0)
  // can be taken by any outgoing connection of the tests running beside this one before the
  // server that was meant to get it binds it. A random port here can only collide with another
  // test's pick, which the reservation rules out, and one already bound is skipped.
  static std::mt19937 rng;
  static pid_t seeded_for = 0;
  if (seeded_for != getpid()) {
    // Seeded again in a forked child, which would otherwise walk the parent's very sequence
    // and find every port of it taken.
    seeded_for = getpid();
    rng.seed(std::random_device{}() ^ static_cast<uint32_t>(seeded_for));
  }
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12768);
    const int reservation = ReservePort(port);
    if (reservation == kTaken) continue;
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
    if (reservation >= 0) close(reservation);  // in use by someone else: give it back
  }
  return 0;
}

std::string UniqueSuffix() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 10; ++i) out.push_back(kAlphabet[rng() % 36]);
  return out;
}

TempDir::TempDir() {
  std::string pattern = "/tmp/tally-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (!output_path_.empty()) {
    if (std::optional<std::string> report = FindSanitizerReport(Output())) {
      ADD_FAILURE() << "child process " << program_ << " printed a sanitizer report:\n" << *report;
    }
    unlink(output_path_.c_str());
  }
}

absl::Status Subprocess::Start(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& extra_env) {
  program_ = argv.empty() ? "" : argv.front();
  output_path_ = absl::StrCat("/tmp/tally-subprocess-", UniqueSuffix(), ".log");
  const int out = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) return absl::InternalError("cannot create output file");
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    // The test runner may block signals; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& [k, v] : extra_env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out);
  return absl::OkStatus();
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + WTERMSIG(status);
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError("still running");
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string Subprocess::Output() const {
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& extra_env,
                         absl::Duration timeout) {
  Subprocess process;
  CommandResult result;
  if (!process.Start(argv, extra_env).ok()) return result;
  absl::StatusOr<int> code = process.Wait(timeout);
  result.exit_code = code.ok() ? *code : -1;
  result.output = process.Output();
  return result;
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("connect failed");
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write failed");
  }
  std::string response;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return absl::UnavailableError("no HTTP response");
  return response.substr(body + 4);
}

pid_t PidFromFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int pid = 0;
  if (!std::getline(in, line) || !absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid)) {
    return 0;
  }
  return pid;
}

absl::Status KillAndWait(pid_t pid, const std::string& what) {
  if (pid <= 0) return absl::FailedPreconditionError(absl::StrCat(what, ": no pid"));
  if (kill(pid, SIGKILL) != 0) {
    return absl::InternalError(absl::StrCat(what, ": kill failed, errno ", errno));
  }
  // Maybe not our child: poll until the kernel has removed it.
  const auto alive = [pid] { return kill(pid, 0) == 0 || errno == EPERM; };
  if (!WaitFor([&] { return !alive(); }, absl::Seconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat(what, " still alive after SIGKILL"));
  }
  return absl::OkStatus();
}

double MetricSum(absl::string_view body, absl::string_view name,
                 const std::vector<std::string>& labels) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;  // a longer name
    const size_t space = rest.rfind(' ');
    if (space == absl::string_view::npos) continue;
    const absl::string_view label_set = rest.substr(0, space);
    bool match = true;
    for (const std::string& label : labels) match = match && absl::StrContains(label_set, label);
    double value = 0;
    if (match && absl::SimpleAtod(rest.substr(space + 1), &value)) sum += value;
  }
  return sum;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

}  // namespace tally::testing
