#include "tools/floors/floors.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/redis/redis_client.h"
#include "common/server/sync_server_threads.h"
#include "common/util/random.h"
#include "grpcpp/grpcpp.h"
#include "services/credential/password_hasher.h"
#include "tally/bench/v1/echo.grpc.pb.h"

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

// One call at a time on `channel`: each call's latency.
absl::StatusOr<std::vector<double>> MeasureSyncEcho(const FloorOptions& options,
                                                    const pb::EchoRequest& request,
                                                    const std::shared_ptr<grpc::Channel>& channel) {
  std::unique_ptr<pb::EchoService::Stub> stub = pb::EchoService::NewStub(channel);
  return SampleLatency(
      [&]() -> absl::Status {
        grpc::ClientContext context;
        pb::EchoResponse response;
        if (grpc::Status s = stub->Echo(&context, request, &response); !s.ok()) {
          return CallFailed(s);
        }
        return absl::OkStatus();
      },
      options);
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
  int64_t calls = 0;
};

// `echo_concurrency` threads calling the echo at `address` with blocking stubs, back to back,
// over `echo_channels` connections until `duration` has passed: the calls they completed per
// second, and the process's CPU per call (client and server ends, gRPC's own threads included).
absl::StatusOr<Capacity> MeasureEchoCapacity(const FloorOptions& options,
                                             const pb::EchoRequest& request,
                                             const std::string& address) {
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
    // A server that stops answering fails the floor instead of hanging it.
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
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  go.store(true);
  std::this_thread::sleep_for(ToChrono(std::max(options.duration, absl::Milliseconds(100))));
  stop.store(true);
  for (std::thread& t : callers) t.join();
  const double seconds = Seconds(Clock::now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  for (const absl::Status& s : statuses) {
    if (!s.ok()) return s;
  }
  Capacity capacity;
  for (int64_t c : counts) capacity.calls += c;
  if (capacity.calls == 0) return absl::InternalError("no echo call completed");
  const double calls = static_cast<double>(capacity.calls);
  capacity.calls_per_s = calls / seconds;
  capacity.cpu_us_per_call = cpu * 1e6 / calls;
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

int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

Floors BestOf(const Floors& before, const Floors& after) {
  const auto higher = [](double a, double b) { return std::max(a, b); };
  const auto lower = [](double a, double b) {
    return a > 0 && b > 0 ? std::min(a, b) : std::max(a, b);
  };
  Floors best = before;
  best.argon2_verifies_per_s_1t = higher(before.argon2_verifies_per_s_1t,
                                         after.argon2_verifies_per_s_1t);
  best.argon2_verifies_per_s_nt = higher(before.argon2_verifies_per_s_nt,
                                         after.argon2_verifies_per_s_nt);
  best.grpc_echo_capacity_per_s = higher(before.grpc_echo_capacity_per_s,
                                         after.grpc_echo_capacity_per_s);
  best.argon2_verify_ms_1t = lower(before.argon2_verify_ms_1t, after.argon2_verify_ms_1t);
  best.argon2_verify_ms_nt = lower(before.argon2_verify_ms_nt, after.argon2_verify_ms_nt);
  best.grpc_echo_p50_us_sync = lower(before.grpc_echo_p50_us_sync, after.grpc_echo_p50_us_sync);
  best.grpc_echo_p99_us_sync = lower(before.grpc_echo_p99_us_sync, after.grpc_echo_p99_us_sync);
  best.grpc_echo_cpu_us_per_call = lower(before.grpc_echo_cpu_us_per_call,
                                         after.grpc_echo_cpu_us_per_call);
  best.redis_rtt_p50_us = lower(before.redis_rtt_p50_us, after.redis_rtt_p50_us);
  best.redis_rtt_p99_us = lower(before.redis_rtt_p99_us, after.redis_rtt_p99_us);
  best.redis_cpu_us_per_round_trip = lower(before.redis_cpu_us_per_round_trip,
                                           after.redis_cpu_us_per_round_trip);
  return best;
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
  SyncEcho service;
  absl::StatusOr<EchoServer> echo = StartEcho(&service);
  if (!echo.ok()) return Annotate(echo.status(), "gRPC echo floor");
  absl::StatusOr<std::vector<double>> sync = MeasureSyncEcho(options, request, echo->channel);
  if (!sync.ok()) return Annotate(sync.status(), "gRPC echo floor");
  floors.grpc_echo_calls_sync = static_cast<int64_t>(sync->size());
  floors.grpc_echo_p50_us_sync = Quantile(*sync, 0.50);
  floors.grpc_echo_p99_us_sync = Quantile(*sync, 0.99);

  absl::StatusOr<Capacity> capacity = MeasureEchoCapacity(options, request, echo->server_address);
  echo->server->Shutdown();
  if (!capacity.ok()) return Annotate(capacity.status(), "gRPC echo capacity floor");
  floors.grpc_echo_capacity_per_s = capacity->calls_per_s;
  floors.grpc_echo_cpu_us_per_call = capacity->cpu_us_per_call;
  floors.grpc_echo_capacity_calls = capacity->calls;
  floors.grpc_echo_capacity_concurrency = options.echo_concurrency;

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

}  // namespace tally::floors
