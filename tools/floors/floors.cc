#include "tools/floors/floors.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_client.h"
#include "common/server/sync_server_threads.h"
#include "common/util/random.h"
#include "grpcpp/grpcpp.h"
#include "services/credential/password_hasher.h"
#include "tally/bench/v1/echo.grpc.pb.h"

extern char** environ;

namespace tally::floors {
namespace {

namespace pb = ::tally::bench::v1;
using Clock = std::chrono::steady_clock;

// Not a secret: the floor hashes a fixed, typical password.
constexpr char kPassword[] = "correct horse battery staple";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
Clock::duration ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// The q-quantile (nearest rank) of `samples`, which this sorts.
double Quantile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(q * static_cast<double>(samples.size()));
  const size_t index = std::clamp<size_t>(static_cast<size_t>(rank), 1, samples.size()) - 1;
  return samples[index];
}

// ---- Argon2id -------------------------------------------------------------------------------

struct VerifyRun {
  int64_t count = 0;
  double seconds = 0;
  absl::Status status;
};

// Verifies the stored hash back to back until `duration` has passed (at least once).
VerifyRun RunVerifies(const credential::PasswordHasher& hasher, const std::string& stored,
                      absl::Duration duration) {
  VerifyRun run;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + ToChrono(duration);
  do {
    absl::StatusOr<credential::PasswordHasher::Verdict> verdict = hasher.Verify(stored, kPassword);
    if (!verdict.ok()) {
      run.status = verdict.status();
      return run;
    }
    if (!verdict->match) {
      run.status = absl::InternalError("argon2id verify did not match its own hash");
      return run;
    }
    ++run.count;
  } while (Clock::now() < deadline);
  run.seconds = Seconds(Clock::now() - start);
  return run;
}

absl::Status MeasureArgon2(const FloorOptions& options, int threads, Floors* out) {
  credential::Argon2Params params;
  params.memory_kib = options.argon2_memory_kib;
  params.iterations = options.argon2_iterations;
  params.parallelism = options.argon2_parallelism;
  if (absl::Status s = credential::ValidateArgon2Params(params); !s.ok()) return s;
  // The memory as the credential service holds it (one preallocated buffer per hash at once),
  // so the floor is the service's own hash at its best.
  credential::Argon2Buffers buffers(std::max(1, threads),
                                    size_t{params.memory_kib} * 1024);
  const credential::PasswordHasher hasher(params, CsprngRandom::Get(), &buffers);
  absl::StatusOr<std::string> stored = hasher.Hash(kPassword);
  if (!stored.ok()) return stored.status();
  out->argon2_memory_kib = params.memory_kib;
  out->argon2_iterations = params.iterations;
  out->argon2_parallelism = params.parallelism;

  // Warm-up: caches and the first use of each code path.
  if (VerifyRun warm = RunVerifies(hasher, *stored, absl::ZeroDuration()); !warm.status.ok()) {
    return warm.status;
  }

  const VerifyRun single = RunVerifies(hasher, *stored, options.duration);
  if (!single.status.ok()) return single.status;
  out->argon2_verifies_per_s_1t = static_cast<double>(single.count) / single.seconds;
  out->argon2_verify_ms_1t = 1000.0 * single.seconds / static_cast<double>(single.count);

  // N threads at once: each thread's own rate, summed, so one thread finishing its last verify
  // late does not dilute the others.
  std::vector<VerifyRun> runs(threads);
  {
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&, i] { runs[i] = RunVerifies(hasher, *stored, options.duration); });
    }
    for (std::thread& t : workers) t.join();
  }
  double rate = 0, mean_ms = 0;
  for (const VerifyRun& run : runs) {
    if (!run.status.ok()) return run.status;
    rate += static_cast<double>(run.count) / run.seconds;
    mean_ms += 1000.0 * run.seconds / static_cast<double>(run.count);
  }
  out->argon2_verifies_per_s_nt = rate;
  out->argon2_verify_ms_nt = mean_ms / threads;
  out->threads = threads;
  return absl::OkStatus();
}

// ---- Latency sampling -------------------------------------------------------------------------

// `warmup` calls, then calls one at a time until `duration` has passed and at least
// `min_samples` were made: each call's latency in microseconds.
absl::StatusOr<std::vector<double>> SampleLatency(const std::function<absl::Status()>& call,
                                                  const FloorOptions& options) {
  for (int i = 0; i < options.warmup_calls; ++i) {
    if (absl::Status s = call(); !s.ok()) return s;
  }
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(options.min_samples));
  const Clock::time_point deadline = Clock::now() + ToChrono(options.duration);
  while (static_cast<int64_t>(samples.size()) < options.min_samples || Clock::now() < deadline) {
    const Clock::time_point start = Clock::now();
    if (absl::Status s = call(); !s.ok()) return s;
    samples.push_back(Micros(Clock::now() - start));
  }
  return samples;
}

// ---- gRPC echo ------------------------------------------------------------------------------

class SyncEcho final : public pb::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext* /*context*/, const pb::EchoRequest* request,
                    pb::EchoResponse* response) override {
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

class CallbackEcho final : public pb::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const pb::EchoRequest* request,
                                 pb::EchoResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// A service between the callers and the echo: every call makes `peer_calls` calls to the echo
// in turn before it answers, as a Tally handler calls its peers. The sync one parks its
// handler's thread in a blocking stub for each (as the services do); the callback one hands
// each to gRPC and answers from the last one's completion, parking no thread.
class SyncRelay final : public pb::EchoService::Service {
 public:
  SyncRelay(const std::shared_ptr<grpc::Channel>& peer, int peer_calls)
      : stub_(pb::EchoService::NewStub(peer)), peer_calls_(peer_calls) {}

  grpc::Status Echo(grpc::ServerContext* context, const pb::EchoRequest* request,
                    pb::EchoResponse* response) override {
    for (int i = 0; i < peer_calls_; ++i) {
      grpc::ClientContext peer_context;
      peer_context.set_deadline(context->deadline());
      pb::EchoResponse peer_response;
      if (grpc::Status s = stub_->Echo(&peer_context, *request, &peer_response); !s.ok()) {
        return s;
      }
    }
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }

 private:
  const std::unique_ptr<pb::EchoService::Stub> stub_;
  const int peer_calls_;
};

class CallbackRelay final : public pb::EchoService::CallbackService {
 public:
  CallbackRelay(const std::shared_ptr<grpc::Channel>& peer, int peer_calls)
      : stub_(pb::EchoService::NewStub(peer)), peer_calls_(peer_calls) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const pb::EchoRequest* request,
                                 pb::EchoResponse* response) override {
    auto* call = new Call(stub_.get(), context, request, response, peer_calls_);
    // Read before starting: a call whose peer calls all complete at once deletes itself.
    grpc::ServerUnaryReactor* reactor = call->reactor;
    call->Next();
    return reactor;
  }

 private:
  // One relayed call; deletes itself when it answers.
  struct Call {
    Call(pb::EchoService::Stub* stub, grpc::CallbackServerContext* context,
         const pb::EchoRequest* request, pb::EchoResponse* response, int peer_calls)
        : stub(stub),
          reactor(context->DefaultReactor()),
          deadline(context->deadline()),
          request(request),
          response(response),
          left(peer_calls) {}

    void Next() {
      if (left == 0) {
        response->set_payload(request->payload());
        Finish(grpc::Status::OK);
        return;
      }
      --left;
      // gRPC is done with the previous context before it runs the completion that gets here.
      peer_context = std::make_unique<grpc::ClientContext>();
      peer_context->set_deadline(deadline);
      stub->async()->Echo(peer_context.get(), request, &peer_response,
                          [this](grpc::Status s) {
                            if (!s.ok()) {
                              Finish(s);
                            } else {
                              Next();
                            }
                          });
    }

    void Finish(const grpc::Status& status) {
      reactor->Finish(status);
      delete this;
    }

    pb::EchoService::Stub* const stub;
    grpc::ServerUnaryReactor* const reactor;
    const std::chrono::system_clock::time_point deadline;
    const pb::EchoRequest* const request;
    pb::EchoResponse* const response;
    int left;
    std::unique_ptr<grpc::ClientContext> peer_context;
    pb::EchoResponse peer_response;
  };

  const std::unique_ptr<pb::EchoService::Stub> stub_;
  const int peer_calls_;
};

struct EchoServer {
  std::unique_ptr<grpc::Server> server;
  std::string server_address;
  std::shared_ptr<grpc::Channel> channel;
};

// A server with only `service`, on a free loopback port, and a connected channel to it.
absl::StatusOr<EchoServer> StartEcho(grpc::Service* service) {
  EchoServer echo;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  SetSyncServerThreads(builder);
  echo.server = builder.BuildAndStart();
  if (echo.server == nullptr || port == 0) {
    return absl::UnavailableError("cannot start the gRPC echo server on 127.0.0.1");
  }
  echo.server_address = absl::StrCat("127.0.0.1:", port);
  echo.channel = grpc::CreateChannel(echo.server_address, grpc::InsecureChannelCredentials());
  if (!echo.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError("cannot connect to the gRPC echo server");
  }
  return echo;
}

absl::Status CallFailed(const grpc::Status& status) {
  return absl::InternalError(
      absl::StrCat("echo call failed: ", status.error_code(), " ", status.error_message()));
}

absl::StatusOr<std::vector<double>> MeasureSyncEcho(const FloorOptions& options,
                                                    const pb::EchoRequest& request) {
  SyncEcho service;
  absl::StatusOr<EchoServer> echo = StartEcho(&service);
  if (!echo.ok()) return echo.status();
  std::unique_ptr<pb::EchoService::Stub> stub = pb::EchoService::NewStub(echo->channel);
  absl::StatusOr<std::vector<double>> samples = SampleLatency(
      [&]() -> absl::Status {
        grpc::ClientContext context;
        pb::EchoResponse response;
        if (grpc::Status s = stub->Echo(&context, request, &response); !s.ok()) {
          return CallFailed(s);
        }
        return absl::OkStatus();
      },
      options);
  echo->server->Shutdown();
  return samples;
}

absl::StatusOr<std::vector<double>> MeasureCallbackEcho(const FloorOptions& options,
                                                        const pb::EchoRequest& request) {
  CallbackEcho service;
  absl::StatusOr<EchoServer> echo = StartEcho(&service);
  if (!echo.ok()) return echo.status();
  std::unique_ptr<pb::EchoService::Stub> stub = pb::EchoService::NewStub(echo->channel);
  // Shared with the completion callback, which may still be unwinding when the caller wakes.
  struct Pending {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    grpc::Status status;
  };
  absl::StatusOr<std::vector<double>> samples = SampleLatency(
      [&]() -> absl::Status {
        grpc::ClientContext context;
        pb::EchoResponse response;
        auto pending = std::make_shared<Pending>();
        stub->async()->Echo(&context, &request, &response, [pending](grpc::Status status) {
          std::lock_guard<std::mutex> lock(pending->mu);
          pending->status = std::move(status);
          pending->done = true;
          pending->done_cv.notify_one();
        });
        std::unique_lock<std::mutex> lock(pending->mu);
        pending->done_cv.wait(lock, [&] { return pending->done; });
        if (!pending->status.ok()) return CallFailed(pending->status);
        return absl::OkStatus();
      },
      options);
  echo->server->Shutdown();
  return samples;
}

// CPU seconds this process has used (every thread).
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Capacity {
  double calls_per_s = 0;
  double cpu_us_per_call = 0;
  // The server process's part of cpu_us_per_call (zero when it runs in this process).
  double server_cpu_us_per_call = 0;
  int64_t calls = 0;
};

// `echo_concurrency` threads calling `service`'s echo with blocking stubs, back to back, over
// `echo_channels` connections until `duration` has passed: the calls they completed per second,
// and the process's CPU per call (client and server ends, gRPC's own threads included).
// `server_cpu` reads the CPU seconds of a server in another process (zero when in this one).
absl::StatusOr<Capacity> MeasureEchoCapacity(
    const FloorOptions& options, const pb::EchoRequest& request, const std::string& address,
    const std::function<absl::StatusOr<double>()>& server_cpu) {
  std::vector<std::unique_ptr<pb::EchoService::Stub>> stubs;
  for (int lane = 0; lane < options.echo_channels; ++lane) {
    grpc::ChannelArguments args;
    // A connection per lane, as the load generator opens to the orchestrator.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("tally.floors.lane", lane);
    stubs.push_back(pb::EchoService::NewStub(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args)));
  }
  auto call = [&](int caller) -> absl::Status {
    grpc::ClientContext context;
    // A server that stops answering (another process may) fails the floor instead of hanging it.
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pb::EchoResponse response;
    grpc::Status s = stubs[static_cast<size_t>(caller % options.echo_channels)]->Echo(
        &context, request, &response);
    return s.ok() ? absl::OkStatus() : CallFailed(s);
  };

  // Every caller warms up (its connection, the server's threads), then all start together.
  std::atomic<int> ready{0};
  std::atomic<bool> go{false}, stop{false};
  std::vector<int64_t> counts(static_cast<size_t>(options.echo_concurrency), 0);
  std::vector<absl::Status> statuses(static_cast<size_t>(options.echo_concurrency));
  std::vector<std::thread> callers;
  for (int i = 0; i < options.echo_concurrency; ++i) {
    callers.emplace_back([&, i] {
      const size_t me = static_cast<size_t>(i);
      for (int w = 0; w < std::max(1, options.warmup_calls / options.echo_concurrency); ++w) {
        if (absl::Status s = call(i); !s.ok()) statuses[me] = s;
      }
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      // Counted locally: neighbouring counters written in the loop would share cache lines.
      int64_t done = 0;
      while (!stop.load() && statuses[me].ok()) {
        if (absl::Status s = call(i); !s.ok()) {
          statuses[me] = s;
        } else {
          ++done;
        }
      }
      counts[me] = done;
    });
  }
  while (ready.load() < options.echo_concurrency) std::this_thread::yield();
  const absl::StatusOr<double> server_start = server_cpu();
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  go.store(true);
  std::this_thread::sleep_for(ToChrono(std::max(options.duration, absl::Milliseconds(100))));
  stop.store(true);
  for (std::thread& t : callers) t.join();
  const double seconds = Seconds(Clock::now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  const absl::StatusOr<double> server_end = server_cpu();
  for (const absl::Status& s : statuses) {
    if (!s.ok()) return s;
  }
  if (!server_start.ok()) return server_start.status();
  if (!server_end.ok()) return server_end.status();
  Capacity capacity;
  for (int64_t c : counts) capacity.calls += c;
  if (capacity.calls == 0) return absl::InternalError("no echo call completed");
  const double calls = static_cast<double>(capacity.calls);
  capacity.calls_per_s = calls / seconds;
  capacity.server_cpu_us_per_call = (*server_end - *server_start) * 1e6 / calls;
  capacity.cpu_us_per_call = cpu * 1e6 / calls + capacity.server_cpu_us_per_call;
  return capacity;
}

absl::StatusOr<Capacity> MeasureInProcessEchoCapacity(const FloorOptions& options,
                                                      const pb::EchoRequest& request,
                                                      grpc::Service* service) {
  absl::StatusOr<EchoServer> echo = StartEcho(service);
  if (!echo.ok()) return echo.status();
  absl::StatusOr<Capacity> capacity =
      MeasureEchoCapacity(options, request, echo->server_address,
                          []() -> absl::StatusOr<double> { return 0.0; });
  echo->server->Shutdown();
  return capacity;
}

// Set in a child started as a server of the floors: "echo", or "relay-sync" / "relay-callback"
// with the relay's peer address and peer calls per call in the two variables after it.
constexpr char kEchoServerEnv[] = "TALLY_FLOORS_ECHO_SERVER";
constexpr char kRelayPeerEnv[] = "TALLY_FLOORS_RELAY_PEER";
constexpr char kRelayCallsEnv[] = "TALLY_FLOORS_RELAY_CALLS";

// CPU seconds process `pid` (a child of this one) has used so far, to the nanosecond.
absl::StatusOr<double> ChildCpuSeconds(pid_t pid) {
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) {
    return absl::InternalError(absl::StrCat("cannot read the CPU time of process ", pid));
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A server of the floors in a child process: `binary` run with `env` set (kEchoServerEnv and
// what it needs), which makes ServeEchoIfAsked serve until its stdin closes. Destroying this
// closes the stdin and reaps the child, killing it if it has not exited within a few seconds.
class ChildEcho {
 public:
  static absl::StatusOr<std::unique_ptr<ChildEcho>> Spawn(const std::string& binary,
                                                          const std::vector<std::string>& env);
  ~ChildEcho();
  ChildEcho(const ChildEcho&) = delete;
  ChildEcho& operator=(const ChildEcho&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

 private:
  ChildEcho(pid_t pid, int stdin_fd) : pid_(pid), stdin_fd_(stdin_fd) {}

  const pid_t pid_;
  const int stdin_fd_;
  std::string address_;
};

ChildEcho::~ChildEcho() {
  close(stdin_fd_);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (true) {
    const pid_t reaped = waitpid(pid_, nullptr, WNOHANG);
    if (reaped == pid_ || (reaped < 0 && errno != EINTR)) return;
    if (Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<std::unique_ptr<ChildEcho>> ChildEcho::Spawn(const std::string& binary,
                                                             const std::vector<std::string>& env) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return absl::InternalError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  bool actions_ok = posix_spawn_file_actions_init(&actions) == 0;
  if (actions_ok) {
    actions_ok = posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO) == 0 &&
                 posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO) == 0;
  }
  // This process's environment without the variables `env` sets (getenv would find an inherited
  // one first), then `env`.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view inherited = *e;
    const absl::string_view name = inherited.substr(0, inherited.find('='));
    const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& set) {
      return absl::string_view(set).substr(0, set.find('=')) == name;
    });
    if (!replaced) env_strings.emplace_back(inherited);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> child_env;
  for (std::string& e : env_strings) child_env.push_back(e.data());
  child_env.push_back(nullptr);
  std::string arg0 = binary;
  char* argv[] = {arg0.data(), nullptr};
  pid_t pid = -1;
  const int spawned = actions_ok ? posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv,
                                               child_env.data())
                                 : -1;
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (spawned != 0) {
    close(to_child[1]);
    close(from_child[0]);
    return absl::UnavailableError(absl::StrCat("cannot start the echo server process ", binary));
  }
  auto child = std::unique_ptr<ChildEcho>(new ChildEcho(pid, to_child[1]));
  // Its first line is the address it listens on.
  std::string line;
  pollfd pfd{from_child[0], POLLIN, 0};
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
    if (poll(&pfd, 1, 100) <= 0) continue;
    char buffer[128];
    const ssize_t n = read(from_child[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    line.append(buffer, static_cast<size_t>(n));
  }
  close(from_child[0]);
  if (line.find('\n') == std::string::npos) {
    return absl::UnavailableError("the echo server process did not report its address");
  }
  child->address_ = line.substr(0, line.find('\n'));
  return child;
}

// The capacity of a server of the floors in a child process (`env` says which), its own CPU
// counted in the call's and reported as server_cpu_us_per_call.
absl::StatusOr<Capacity> MeasureChildCapacity(const FloorOptions& options,
                                              const pb::EchoRequest& request,
                                              const std::vector<std::string>& env) {
  absl::StatusOr<std::unique_ptr<ChildEcho>> child =
      ChildEcho::Spawn(options.echo_server_binary, env);
  if (!child.ok()) return child.status();
  const pid_t pid = (*child)->pid();
  return MeasureEchoCapacity(options, request, (*child)->address(),
                             [pid] { return ChildCpuSeconds(pid); });
}

// The echo's capacity with its server in another process, as every hop between two Tally
// services is: the process switches (address space, caches) that an in-process echo never pays.
absl::StatusOr<Capacity> MeasureCrossProcessEchoCapacity(const FloorOptions& options,
                                                         const pb::EchoRequest& request) {
  return MeasureChildCapacity(options, request, {absl::StrCat(kEchoServerEnv, "=echo")});
}

// A service that calls a peer `relay_peer_calls` times per call, in another process as every
// Tally service is, with its peer (a sync echo) and its callers in this one: what a handler's
// peer calls cost with the `api` ("sync" or "callback") the relay is written in. The relay's own
// CPU is server_cpu_us_per_call.
absl::StatusOr<Capacity> MeasureRelayCapacity(const FloorOptions& options,
                                              const pb::EchoRequest& request,
                                              absl::string_view api) {
  SyncEcho peer_service;
  absl::StatusOr<EchoServer> peer = StartEcho(&peer_service);
  if (!peer.ok()) return peer.status();
  // The relay has exited when this returns, before its peer stops.
  absl::StatusOr<Capacity> capacity =
      MeasureChildCapacity(options, request,
                           {absl::StrCat(kEchoServerEnv, "=relay-", api),
                            absl::StrCat(kRelayPeerEnv, "=", peer->server_address),
                            absl::StrCat(kRelayCallsEnv, "=", options.relay_peer_calls)});
  peer->server->Shutdown();
  return capacity;
}

// ---- Redis ----------------------------------------------------------------------------------

// The Redis server's CPU seconds so far (INFO cpu: used_cpu_sys + used_cpu_user).
absl::StatusOr<double> RedisServerCpuSeconds(RedisClient& redis) {
  absl::StatusOr<RedisReply> reply = redis.Command({"INFO", "cpu"});
  if (!reply.ok()) return reply.status();
  double total = 0;
  int seen = 0;
  for (absl::string_view line : absl::StrSplit(reply->str(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    for (absl::string_view key : {"used_cpu_sys:", "used_cpu_user:"}) {
      double value = 0;
      if (absl::ConsumePrefix(&line, key) && absl::SimpleAtod(line, &value)) {
        total += value;
        ++seen;
      }
    }
  }
  if (seen != 2) return absl::InternalError("INFO cpu lacks used_cpu_sys or used_cpu_user");
  return total;
}

struct RedisFloor {
  std::vector<double> samples;
  // Both ends: this process's CPU and the server's, per PING.
  double cpu_us_per_round_trip = 0;
};

absl::StatusOr<RedisFloor> MeasureRedis(const FloorOptions& options) {
  absl::StatusOr<RedisOptions> redis_options = ParseRedisUrl(options.redis_url);
  if (!redis_options.ok()) return redis_options.status();
  redis_options->pool_size = 1;
  redis_options->client_name = "tally-floors";
  RedisClient redis(*redis_options);
  if (absl::Status s = redis.Ping(); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("Redis does not answer PING: ", s.message()));
  }
  absl::StatusOr<double> server_before = RedisServerCpuSeconds(redis);
  if (!server_before.ok()) return server_before.status();
  const double client_before = ProcessCpuSeconds();
  RedisFloor floor;
  absl::StatusOr<std::vector<double>> samples =
      SampleLatency([&] { return redis.Ping(); }, options);
  if (!samples.ok()) return samples.status();
  const double client = ProcessCpuSeconds() - client_before;
  absl::StatusOr<double> server_after = RedisServerCpuSeconds(redis);
  if (!server_after.ok()) return server_after.status();
  floor.samples = *std::move(samples);
  // The warm-up calls ran inside the CPU window too.
  const double pings = static_cast<double>(floor.samples.size() + options.warmup_calls);
  floor.cpu_us_per_round_trip = (client + *server_after - *server_before) * 1e6 / pings;
  return floor;
}

absl::Status CheckOptions(const FloorOptions& options) {
  if (options.threads < 0) return absl::InvalidArgumentError("threads must not be negative");
  if (options.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must not be negative");
  }
  if (options.min_samples < 1) return absl::InvalidArgumentError("min_samples must be at least 1");
  if (options.warmup_calls < 0) {
    return absl::InvalidArgumentError("warmup_calls must not be negative");
  }
  if (options.echo_concurrency < 1 || options.echo_channels < 1) {
    return absl::InvalidArgumentError("echo_concurrency and echo_channels must be at least 1");
  }
  if (options.relay_peer_calls < 0 || options.relay_peer_calls > 64) {
    return absl::InvalidArgumentError("relay_peer_calls must be between 0 and 64");
  }
  if (options.echo_payload_bytes > 1024 * 1024) {
    return absl::InvalidArgumentError("echo_payload_bytes must be at most 1 MiB");
  }
  // Configuration errors before the long measurements, not after.
  if (!options.redis_url.empty()) {
    if (absl::StatusOr<RedisOptions> redis = ParseRedisUrl(options.redis_url); !redis.ok()) {
      return redis.status();
    }
  }
  return absl::OkStatus();
}

// A child asked to serve that cannot: its parent sees it exit without an address.
[[noreturn]] void FailServing(absl::string_view why) {
  std::fprintf(stderr, "echo server: %s\n", std::string(why).c_str());
  _exit(1);
}

absl::Status Annotate(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

struct EchoPeer::Impl {
  SyncEcho service;
  EchoServer echo;
  std::unique_ptr<pb::EchoService::Stub> stub;
  pb::EchoRequest request;
};

absl::StatusOr<std::unique_ptr<EchoPeer>> EchoPeer::Start(size_t payload_bytes) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<EchoServer> echo = StartEcho(&impl->service);
  if (!echo.ok()) return echo.status();
  impl->echo = *std::move(echo);
  impl->stub = pb::EchoService::NewStub(impl->echo.channel);
  impl->request.set_payload(std::string(payload_bytes, 'x'));
  return std::unique_ptr<EchoPeer>(new EchoPeer(std::move(impl)));
}

EchoPeer::EchoPeer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EchoPeer::~EchoPeer() { impl_->echo.server->Shutdown(); }

absl::Status EchoPeer::Call() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pb::EchoResponse response;
  if (grpc::Status s = impl_->stub->Echo(&context, impl_->request, &response); !s.ok()) {
    return CallFailed(s);
  }
  return absl::OkStatus();
}

void ServeEchoIfAsked() {
  const char* role = getenv(kEchoServerEnv);
  if (role == nullptr) return;
  // As the services run (their mains): Debian's Abseil checks every absl::Mutex for deadlock
  // cycles otherwise, which gRPC locks on every call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::unique_ptr<grpc::Service> service;
  const absl::string_view wanted = role;
  if (wanted == "echo") {
    service = std::make_unique<SyncEcho>();
  } else if (wanted == "relay-sync" || wanted == "relay-callback") {
    const char* peer_address = getenv(kRelayPeerEnv);
    const char* calls_text = getenv(kRelayCallsEnv);
    int calls = 0;
    if (peer_address == nullptr || calls_text == nullptr || !absl::SimpleAtoi(calls_text, &calls) ||
        calls < 0) {
      FailServing("a relay needs its peer's address and a number of calls");
    }
    std::shared_ptr<grpc::Channel> peer =
        grpc::CreateChannel(peer_address, grpc::InsecureChannelCredentials());
    if (wanted == "relay-sync") {
      service = std::make_unique<SyncRelay>(peer, calls);
    } else {
      service = std::make_unique<CallbackRelay>(peer, calls);
    }
  } else {
    FailServing(absl::StrCat("unknown role ", wanted));
  }
  absl::StatusOr<EchoServer> echo = StartEcho(service.get());
  if (!echo.ok()) FailServing(echo.status().message());
  std::printf("%s\n", echo->server_address.c_str());
  std::fflush(stdout);
  // Until the measuring process closes our stdin, or dies.
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  echo->server->Shutdown();
  _exit(0);
}

int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

absl::StatusOr<Floors> MeasureFloors(const FloorOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  Floors floors;
  floors.cpus = AvailableCpus();
  const int threads = options.threads > 0 ? options.threads : floors.cpus;

  if (absl::Status s = MeasureArgon2(options, threads, &floors); !s.ok()) {
    return Annotate(s, "argon2id floor");
  }

  pb::EchoRequest request;
  request.set_payload(std::string(options.echo_payload_bytes, 'x'));
  absl::StatusOr<std::vector<double>> sync = MeasureSyncEcho(options, request);
  if (!sync.ok()) return Annotate(sync.status(), "gRPC echo floor (sync)");
  floors.grpc_echo_calls_sync = static_cast<int64_t>(sync->size());
  floors.grpc_echo_p50_us_sync = Quantile(*sync, 0.50);
  floors.grpc_echo_p99_us_sync = Quantile(*sync, 0.99);

  absl::StatusOr<std::vector<double>> callback = MeasureCallbackEcho(options, request);
  if (!callback.ok()) return Annotate(callback.status(), "gRPC echo floor (callback)");
  floors.grpc_echo_calls_callback = static_cast<int64_t>(callback->size());
  floors.grpc_echo_p50_us_callback = Quantile(*callback, 0.50);
  floors.grpc_echo_p99_us_callback = Quantile(*callback, 0.99);

  SyncEcho sync_service;
  absl::StatusOr<Capacity> capacity =
      MeasureInProcessEchoCapacity(options, request, &sync_service);
  if (!capacity.ok()) return Annotate(capacity.status(), "gRPC echo capacity floor (sync)");
  floors.grpc_echo_capacity_per_s = capacity->calls_per_s;
  floors.grpc_echo_cpu_us_per_call = capacity->cpu_us_per_call;
  floors.grpc_echo_capacity_calls = capacity->calls;
  // The same callers against a callback server: what the server's I/O model alone is worth.
  CallbackEcho callback_service;
  capacity = MeasureInProcessEchoCapacity(options, request, &callback_service);
  if (!capacity.ok()) return Annotate(capacity.status(), "gRPC echo capacity floor (callback)");
  floors.grpc_echo_capacity_per_s_callback = capacity->calls_per_s;
  floors.grpc_echo_cpu_us_per_call_callback = capacity->cpu_us_per_call;
  floors.grpc_echo_capacity_concurrency = options.echo_concurrency;
  if (!options.echo_server_binary.empty()) {
    capacity = MeasureCrossProcessEchoCapacity(options, request);
    if (!capacity.ok()) {
      return Annotate(capacity.status(), "gRPC echo capacity floor (another process)");
    }
    floors.grpc_echo_cross_process_measured = true;
    floors.grpc_echo_capacity_per_s_cross_process = capacity->calls_per_s;
    floors.grpc_echo_cpu_us_per_call_cross_process = capacity->cpu_us_per_call;
    floors.grpc_echo_server_cpu_us_per_call_cross_process = capacity->server_cpu_us_per_call;
    if (options.relay_peer_calls > 0) {
      for (absl::string_view api : {"sync", "callback"}) {
        capacity = MeasureRelayCapacity(options, request, api);
        if (!capacity.ok()) {
          return Annotate(capacity.status(), absl::StrCat("gRPC relay floor (", api, ")"));
        }
        if (api == "sync") {
          floors.grpc_relay_per_s_sync = capacity->calls_per_s;
          floors.grpc_relay_cpu_us_per_call_sync = capacity->cpu_us_per_call;
          floors.grpc_relay_middle_cpu_us_per_call_sync = capacity->server_cpu_us_per_call;
        } else {
          floors.grpc_relay_per_s_callback = capacity->calls_per_s;
          floors.grpc_relay_cpu_us_per_call_callback = capacity->cpu_us_per_call;
          floors.grpc_relay_middle_cpu_us_per_call_callback = capacity->server_cpu_us_per_call;
        }
      }
      floors.grpc_relay_measured = true;
      floors.grpc_relay_peer_calls = options.relay_peer_calls;
    }
  }

  if (!options.redis_url.empty()) {
    absl::StatusOr<RedisFloor> redis = MeasureRedis(options);
    if (!redis.ok()) return Annotate(redis.status(), "Redis floor");
    floors.redis_measured = true;
    floors.redis_samples = static_cast<int64_t>(redis->samples.size());
    floors.redis_rtt_p50_us = Quantile(redis->samples, 0.50);
    floors.redis_rtt_p99_us = Quantile(redis->samples, 0.99);
    floors.redis_cpu_us_per_round_trip = redis->cpu_us_per_round_trip;
  }
  return floors;
}

nlohmann::json ToJson(const Floors& f) {
  return nlohmann::json{
      {"argon2_memory_kib", f.argon2_memory_kib},
      {"argon2_iterations", f.argon2_iterations},
      {"argon2_parallelism", f.argon2_parallelism},
      {"argon2_verify_ms_1t", f.argon2_verify_ms_1t},
      {"argon2_verifies_per_s_1t", f.argon2_verifies_per_s_1t},
      {"argon2_verifies_per_s_nt", f.argon2_verifies_per_s_nt},
      {"argon2_verify_ms_nt", f.argon2_verify_ms_nt},
      {"threads", f.threads},
      {"grpc_echo_p50_us_sync", f.grpc_echo_p50_us_sync},
      {"grpc_echo_p99_us_sync", f.grpc_echo_p99_us_sync},
      {"grpc_echo_p50_us_callback", f.grpc_echo_p50_us_callback},
      {"grpc_echo_p99_us_callback", f.grpc_echo_p99_us_callback},
      {"grpc_echo_calls_sync", f.grpc_echo_calls_sync},
      {"grpc_echo_calls_callback", f.grpc_echo_calls_callback},
      {"grpc_echo_capacity_per_s", f.grpc_echo_capacity_per_s},
      {"grpc_echo_cpu_us_per_call", f.grpc_echo_cpu_us_per_call},
      {"grpc_echo_capacity_per_s_callback", f.grpc_echo_capacity_per_s_callback},
      {"grpc_echo_cpu_us_per_call_callback", f.grpc_echo_cpu_us_per_call_callback},
      {"grpc_echo_cross_process_measured", f.grpc_echo_cross_process_measured},
      {"grpc_echo_capacity_per_s_cross_process", f.grpc_echo_capacity_per_s_cross_process},
      {"grpc_echo_cpu_us_per_call_cross_process", f.grpc_echo_cpu_us_per_call_cross_process},
      {"grpc_echo_server_cpu_us_per_call_cross_process",
       f.grpc_echo_server_cpu_us_per_call_cross_process},
      {"grpc_relay_measured", f.grpc_relay_measured},
      {"grpc_relay_peer_calls", f.grpc_relay_peer_calls},
      {"grpc_relay_per_s_sync", f.grpc_relay_per_s_sync},
      {"grpc_relay_cpu_us_per_call_sync", f.grpc_relay_cpu_us_per_call_sync},
      {"grpc_relay_middle_cpu_us_per_call_sync", f.grpc_relay_middle_cpu_us_per_call_sync},
      {"grpc_relay_per_s_callback", f.grpc_relay_per_s_callback},
      {"grpc_relay_cpu_us_per_call_callback", f.grpc_relay_cpu_us_per_call_callback},
      {"grpc_relay_middle_cpu_us_per_call_callback", f.grpc_relay_middle_cpu_us_per_call_callback},
      {"grpc_echo_capacity_concurrency", f.grpc_echo_capacity_concurrency},
      {"grpc_echo_capacity_calls", f.grpc_echo_capacity_calls},
      {"redis_measured", f.redis_measured},
      {"redis_rtt_p50_us", f.redis_rtt_p50_us},
      {"redis_rtt_p99_us", f.redis_rtt_p99_us},
      {"redis_samples", f.redis_samples},
      {"redis_cpu_us_per_round_trip", f.redis_cpu_us_per_round_trip},
      {"cpus", f.cpus},
  };
}

std::string FormatTable(const Floors& f) {
  std::string out = "Floors (measured in this process)\n";
  absl::StrAppendFormat(&out, "  %-44s %10.2f ms %12.1f verifies/s\n",
                        absl::StrFormat("Argon2id verify m=%u KiB t=%u p=%u, 1 thread",
                                        f.argon2_memory_kib, f.argon2_iterations,
                                        f.argon2_parallelism),
                        f.argon2_verify_ms_1t, f.argon2_verifies_per_s_1t);
  absl::StrAppendFormat(&out, "  %-44s %10.2f ms %12.1f verifies/s\n",
                        absl::StrFormat("Argon2id verify, %d threads (%d CPUs)", f.threads, f.cpus),
                        f.argon2_verify_ms_nt, f.argon2_verifies_per_s_nt);
  absl::StrAppendFormat(&out, "  %-44s p50 %8.1f us  p99 %8.1f us  (%d calls)\n",
                        "gRPC echo round trip, sync API", f.grpc_echo_p50_us_sync,
                        f.grpc_echo_p99_us_sync, f.grpc_echo_calls_sync);
  absl::StrAppendFormat(&out, "  %-44s p50 %8.1f us  p99 %8.1f us  (%d calls)\n",
                        "gRPC echo round trip, callback API", f.grpc_echo_p50_us_callback,
                        f.grpc_echo_p99_us_callback, f.grpc_echo_calls_callback);
  absl::StrAppendFormat(&out, "  %-44s %10.0f calls/s %8.1f us CPU per call\n",
                        absl::StrFormat("gRPC echo capacity, %d callers, sync server",
                                        f.grpc_echo_capacity_concurrency),
                        f.grpc_echo_capacity_per_s, f.grpc_echo_cpu_us_per_call);
  absl::StrAppendFormat(&out, "  %-44s %10.0f calls/s %8.1f us CPU per call\n",
                        absl::StrFormat("gRPC echo capacity, %d callers, callback server",
                                        f.grpc_echo_capacity_concurrency),
                        f.grpc_echo_capacity_per_s_callback,
                        f.grpc_echo_cpu_us_per_call_callback);
  if (f.grpc_echo_cross_process_measured) {
    absl::StrAppendFormat(&out, "  %-44s %10.0f calls/s %8.1f us CPU per call\n",
                          "gRPC echo capacity, server in another process",
                          f.grpc_echo_capacity_per_s_cross_process,
                          f.grpc_echo_cpu_us_per_call_cross_process);
  }
  if (f.grpc_relay_measured) {
    for (const bool sync : {true, false}) {
      absl::StrAppendFormat(
          &out, "  %-44s %10.0f calls/s %8.1f us CPU per call, %.1f us the relay's\n",
          absl::StrFormat("gRPC relay (%d peer calls each), %s", f.grpc_relay_peer_calls,
                          sync ? "sync" : "callback"),
          sync ? f.grpc_relay_per_s_sync : f.grpc_relay_per_s_callback,
          sync ? f.grpc_relay_cpu_us_per_call_sync : f.grpc_relay_cpu_us_per_call_callback,
          sync ? f.grpc_relay_middle_cpu_us_per_call_sync
               : f.grpc_relay_middle_cpu_us_per_call_callback);
    }
  }
  if (f.redis_measured) {
    absl::StrAppendFormat(&out, "  %-44s p50 %8.1f us  p99 %8.1f us  (%d calls)\n",
                          "Redis PING round trip", f.redis_rtt_p50_us, f.redis_rtt_p99_us,
                          f.redis_samples);
    absl::StrAppendFormat(&out, "  %-44s %8.1f us\n", "Redis PING, CPU per round trip (both ends)",
                          f.redis_cpu_us_per_round_trip);
  } else {
    absl::StrAppendFormat(&out, "  %-44s not measured (no Redis URL)\n", "Redis PING round trip");
  }
  return out;
}

}  // namespace tally::floors
