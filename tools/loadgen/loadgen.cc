#include "tools/loadgen/loadgen.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/logging/logging.h"
#include "common/redis/redis_client.h"
#include "tools/floors/floors.h"
#include "tools/loadgen/grpc_counters.h"
#include "tools/loadgen/redis_counters.h"
#include "tools/loadgen/stats.h"

namespace tally::loadgen {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("loadgen");
  return logger;
}

void SleepUntil(absl::Time t) {
  const absl::Duration d = t - absl::Now();
  if (d > absl::ZeroDuration()) absl::SleepFor(d);
}

std::string RandomHex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) absl::StrAppendFormat(&out, "%02x", rd() & 0xff);
  return out;
}

// The services under watch plus the load generator itself (it shares the machine).
class Monitor {
 public:
  Monitor(std::vector<WatchedService> services, std::shared_ptr<RedisClient> redis,
          std::vector<std::string> metrics_addresses)
      : services_(std::move(services)),
        redis_(std::move(redis)),
        metrics_addresses_(std::move(metrics_addresses)) {
    services_.push_back({"loadgen", getpid()});
  }

  struct Snapshot {
    std::map<std::string, ProcSample> procs;
    std::optional<RedisCounters> redis;
    // gRPC calls served by every service so far; none when an endpoint did not answer.
    std::optional<HandledCalls> grpc_calls;
  };

  // /proc only: cheap enough to sample memory every few hundred milliseconds without making
  // the services (metrics pages) or Redis (INFO) work inside the measured window.
  Snapshot TakeProcs() const {
    Snapshot s;
    for (const WatchedService& service : services_) {
      absl::StatusOr<ProcSample> sample = SampleService(service);
      if (sample.ok()) {
        s.procs[service.name] = *sample;
      } else {
        Log()->warn("cannot read /proc of {} (pid {}): {}", service.name, service.pid,
                    sample.status());
      }
    }
    return s;
  }

  // /proc, Redis's counters and the gRPC calls served.
  Snapshot Take() const {
    Snapshot s = TakeProcs();
    if (redis_) {
      absl::StatusOr<RedisCounters> counters = ReadRedisCounters(*redis_);
      if (counters.ok()) s.redis = *counters;
    }
    if (!metrics_addresses_.empty()) {
      HandledCalls calls;
      for (const std::string& address : metrics_addresses_) {
        absl::StatusOr<HandledCalls> served = ScrapeHandledCalls(address);
        if (!served.ok()) {
          Log()->warn("cannot count gRPC calls: {}", served.status());
          return s;
        }
        AddCalls(*served, calls);
      }
      s.grpc_calls = std::move(calls);
    }
    return s;
  }

  std::optional<RedisCounters> RedisNow() const {
    if (!redis_) return std::nullopt;
    absl::StatusOr<RedisCounters> counters = ReadRedisCounters(*redis_);
    if (!counters.ok()) return std::nullopt;
    return *counters;
  }

  bool has_redis() const { return redis_ != nullptr; }
  const std::vector<WatchedService>& services() const { return services_; }

 private:
  std::vector<WatchedService> services_;
  std::shared_ptr<RedisClient> redis_;
  std::vector<std::string> metrics_addresses_;
};

// CPU seconds per login and memory of every watched service between two snapshots, plus
// Redis round trips and commands and the gRPC calls served per login.
void AddUsage(const Monitor::Snapshot& before, const Monitor::Snapshot& after, RunResult& out) {
  const int64_t logins = out.logins;
  const double per = logins > 0 ? 1.0 / static_cast<double>(logins) : 0;
  for (const auto& [name, end] : after.procs) {
    auto it = before.procs.find(name);
    if (it == before.procs.end()) continue;
    ServiceUsage& usage = out.services[name];
    usage.cpu_s = end.cpu_seconds - it->second.cpu_seconds;
    usage.cpu_ms_per_login = usage.cpu_s * 1000.0 * per;
    usage.rss_kib = end.rss_kib;
    usage.peak_rss_kib = end.hwm_kib;
    if (name != "loadgen") out.cluster_cpu_ms_per_login += usage.cpu_ms_per_login;
  }
  if (before.redis && after.redis && logins > 0) {
    const RedisCounters d = Delta(*before.redis, *after.redis);
    RedisUsage& redis = out.redis.emplace();
    redis.round_trips_per_login = static_cast<double>(d.reads_processed) * per;
    for (const auto& [name, calls] : d.calls) {
      redis.commands_per_login[name] = static_cast<double>(calls) * per;
    }
  }
  if (before.grpc_calls && after.grpc_calls && logins > 0) {
    int64_t total = 0;
    for (const auto& [method, calls] : *after.grpc_calls) {
      auto it = before.grpc_calls->find(method);
      int64_t d = calls - (it == before.grpc_calls->end() ? 0 : it->second);
      // A counter that went down was reset (a service restarted): it counted from zero.
      if (d < 0) d = calls;
      if (d == 0) continue;
      total += d;
      out.grpc_calls_per_login_by_method[method] = static_cast<double>(d) * per;
    }
    out.grpc_calls_per_login = static_cast<double>(total) * per;
  }
}

void Record(RunRecorder& r, const LoginOutcome& outcome, double total_us) {
  for (const auto& [step, us] : outcome.steps) r.steps[step].Add(us);
  if (outcome.succeeded) {
    ++r.succeeded;
    r.login.Add(total_us);
  } else {
    ++r.failed;
    ++r.errors[absl::StrCat(outcome.error_step, ": ", outcome.error)];
    if (outcome.error == "RESOURCE_EXHAUSTED") r.refused.Add(total_us);
  }
}

RunResult Summarize(const std::string& scenario, const RunRecorder& r, double window_s) {
  RunResult out;
  out.scenario = scenario;
  out.window_s = window_s;
  out.logins = r.succeeded;
  out.failed = r.failed;
  out.logins_per_s = window_s > 0 ? static_cast<double>(r.succeeded) / window_s : 0;
  out.latency = r.login.Summarize();
  for (const auto& [name, samples] : r.steps) out.steps[name] = samples.Summarize();
  out.errors = r.errors;
  return out;
}

class Runner {
 public:
  Runner(const Options& options, LoginDriver& driver, Monitor& monitor)
      : options_(options), driver_(driver), monitor_(monitor) {}

  // Closed loop: `concurrency` workers, each running one login after another.
  RunResult Closed(const std::string& name, const std::vector<UserPool*>& pools,
                   int concurrency) {
    const int workers = std::max(1, concurrency);
    const absl::Time start = absl::Now();
    const absl::Time measure_from = start + options_.warmup;
    const bool by_count = options_.count > 0;
    const absl::Time end =
        by_count ? absl::InfiniteFuture() : measure_from + options_.duration;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> measured{0};
    std::atomic<uint64_t> round_robin{0};
    std::vector<RunRecorder> recorders(static_cast<size_t>(workers));
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        RunRecorder& recorder = recorders[static_cast<size_t>(w)];
        while (!stop.load() && absl::Now() < end) {
          UserPool* pool = pools[round_robin++ % pools.size()];
          const int index = pool->Acquire(absl::Seconds(1));
          if (index < 0) continue;
          const absl::Time began = absl::Now();
          LoginOutcome outcome = driver_.Login(*pool, pool->user(static_cast<size_t>(index)), w);
          const absl::Time done = absl::Now();
          pool->Release(index);
          if (done < measure_from || done > end) continue;
          if (by_count && measured.fetch_add(1) >= options_.count) {
            stop = true;
            continue;
          }
          Record(recorder, outcome, absl::ToDoubleMicroseconds(done - began));
        }
      });
    }
    SleepUntil(measure_from);
    const Monitor::Snapshot before = monitor_.Take();
    absl::Time window_end;
    if (by_count) {
      for (std::thread& t : threads) t.join();
      window_end = absl::Now();
    } else {
      SleepUntil(end);
      window_end = absl::Now();
    }
    const Monitor::Snapshot after = monitor_.Take();
    stop = true;
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
    RunRecorder total;
    for (const RunRecorder& r : recorders) total.Merge(r);
    RunResult out = Summarize(name, total, absl::ToDoubleSeconds(window_end - measure_from));
    out.concurrency = workers;
    for (UserPool* p : pools) out.users += static_cast<int64_t>(p->size());
    AddUsage(before, after, out);
    return out;
  }

  // Open loop: logins start at `rate` per second whatever the cluster does; latency counts
  // from the scheduled start, so a generator that falls behind shows up instead of hiding.
  OverloadResult Open(const std::string& name, UserPool& pool, double rate) {
    const int workers = std::max(1, options_.max_in_flight);
    const absl::Time start = absl::Now() + absl::Milliseconds(200);
    const absl::Time measure_from = start + options_.warmup;
    const absl::Time end = measure_from + options_.overload_duration;
    absl::Mutex mu;
    std::deque<absl::Time> queue;
    bool done = false;
    std::atomic<int> busy{0};
    std::vector<RunRecorder> recorders(static_cast<size_t>(workers));
    std::atomic<int64_t> no_free_user{0};

    // Memory while it runs: the highest VmRSS seen per service.
    std::map<std::string, int64_t> max_rss;
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
      while (sampling.load()) {
        Monitor::Snapshot s = monitor_.TakeProcs();
        {
          absl::MutexLock lock(&mu);
          for (const auto& [svc, p] : s.procs) max_rss[svc] = std::max(max_rss[svc], p.rss_kib);
        }
        absl::SleepFor(absl::Milliseconds(250));
      }
    });

    const Monitor::Snapshot rss_before = monitor_.Take();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        RunRecorder& recorder = recorders[static_cast<size_t>(w)];
        while (true) {
          absl::Time scheduled;
          {
            absl::MutexLock lock(&mu);
            auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done || !queue.empty(); };
            mu.Await(absl::Condition(&ready));
            if (queue.empty()) return;
            scheduled = queue.front();
            queue.pop_front();
          }
          const int index = pool.Acquire(absl::ZeroDuration());
          if (index < 0) {
            ++no_free_user;
            --busy;
            continue;
          }
          LoginOutcome outcome =
              driver_.Login(pool, pool.user(static_cast<size_t>(index)), w);
          const absl::Time finished = absl::Now();
          pool.Release(index);
          --busy;
          if (scheduled < measure_from || scheduled >= end) continue;
          Record(recorder, outcome, absl::ToDoubleMicroseconds(finished - scheduled));
        }
      });
    }
    int64_t offered = 0, saturated = 0;
    Monitor::Snapshot before;
    bool took_before = false;
    for (int64_t i = 0;; ++i) {
      const absl::Time t = start + absl::Seconds(static_cast<double>(i) / rate);
      if (t >= end) break;
      if (!took_before && t >= measure_from) {
        before = monitor_.Take();
        took_before = true;
      }
      SleepUntil(t);
      const bool counted = t >= measure_from;
      if (counted) ++offered;
      if (busy.load() >= workers) {
        // Every worker is busy: the generator itself is the limit; say so rather than queue.
        if (counted) ++saturated;
        continue;
      }
      ++busy;
      absl::MutexLock lock(&mu);
      queue.push_back(t);
    }
    SleepUntil(end);
    const Monitor::Snapshot after = monitor_.Take();
    {
      absl::MutexLock lock(&mu);
      done = true;
    }
    for (std::thread& t : threads) t.join();
    absl::SleepFor(absl::Seconds(1));  // let the services settle before the last look
    const Monitor::Snapshot rss_after = monitor_.Take();
    sampling = false;
    sampler.join();

    RunRecorder total;
    for (const RunRecorder& r : recorders) total.Merge(r);
    OverloadResult out;
    out.run = Summarize(name, total, absl::ToDoubleSeconds(end - measure_from));
    out.offered_rate = rate;
    out.offered = offered;
    out.generator_saturated = saturated;
    out.no_free_user = no_free_user.load();
    out.max_in_flight = workers;
    for (const auto& [key, n] : total.errors) {
      if (absl::EndsWith(key, "RESOURCE_EXHAUSTED")) out.resource_exhausted += n;
    }
    out.refused_latency = total.refused.Summarize();
    for (const auto& [svc, p] : rss_after.procs) {
      auto b = rss_before.procs.find(svc);
      if (b == rss_before.procs.end()) continue;
      absl::MutexLock lock(&mu);
      out.memory[svc] = {b->second.rss_kib, p.rss_kib, max_rss[svc], p.hwm_kib};
    }
    AddUsage(before, after, out.run);
    return out;
  }

 private:
  const Options& options_;
  LoginDriver& driver_;
  Monitor& monitor_;
};

// p50/p99 of `probes` sequential calls of `call` (after a few unmeasured ones), and the Redis
// round trips of one call (the fewest over a few calls, so background traffic drops out). Each
// call is followed by a bare echo on `echo` and a PING on `redis` (when given), whose p50s are
// measured in the same seconds as the hop's: the hop target divides by them, so the host's
// drift between the floors and the probes does not move the ratio.
HopProbe Probe(const std::string& what, bool postgres, int probes, Monitor& monitor,
               floors::EchoPeer* echo, RedisClient* redis,
               const std::function<grpc::Status()>& call) {
  for (int i = 0; i < 20; ++i) (void)call();
  LatencySamples samples, echo_samples, redis_samples;
  HopProbe out;
  out.rpc = what;
  out.postgres = postgres;
  for (int i = 0; i < probes; ++i) {
    const absl::Time start = absl::Now();
    grpc::Status s = call();
    if (!s.ok()) {
      ++out.errors;
      out.last_error = CodeName(s.error_code());
    } else {
      samples.Add(absl::ToDoubleMicroseconds(absl::Now() - start));
    }
    if (echo != nullptr) {
      const absl::Time echo_start = absl::Now();
      if (echo->Call().ok()) {
        echo_samples.Add(absl::ToDoubleMicroseconds(absl::Now() - echo_start));
      }
    }
    if (redis != nullptr) {
      const absl::Time ping_start = absl::Now();
      if (redis->Ping().ok()) {
        redis_samples.Add(absl::ToDoubleMicroseconds(absl::Now() - ping_start));
      }
    }
  }
  const LatencySummary summary = samples.Summarize();
  out.p50_us = summary.p50_us;
  out.p99_us = summary.p99_us;
  out.calls = summary.count;
  if (echo_samples.size() > 0) out.echo_p50_us = echo_samples.Summarize().p50_us;
  if (redis_samples.size() > 0) out.redis_p50_us = redis_samples.Summarize().p50_us;
  if (monitor.has_redis()) {
    std::optional<RedisCounters> best;
    for (int i = 0; i < 7; ++i) {
      std::optional<RedisCounters> before = monitor.RedisNow();
      (void)call();
      std::optional<RedisCounters> after = monitor.RedisNow();
      if (!before || !after) break;
      RedisCounters d = Delta(*before, *after);
      if (!best || d.reads_processed < best->reads_processed) best = d;
    }
    if (best) out.redis = RedisCost{best->reads_processed, best->calls};
  }
  return out;
}

// Redis round trips and commands of each step of a login, one login at a time (the fewest
// over `logins` logins per step, so background traffic drops out).
std::map<std::string, RedisCost> StepRoundTrips(LoginDriver& driver, UserPool& pool,
                                                Monitor& monitor, int logins) {
  std::map<std::string, RedisCounters> best;
  for (int i = 0; i < logins; ++i) {
    const int index = pool.Acquire(absl::Seconds(5));
    if (index < 0) break;
    std::optional<RedisCounters> before;
    LoginDriver::StepHook hook = [&](const std::string& step, bool is_before) {
      if (is_before) {
        // The OTP sender acknowledges and deletes its job right after the gateway got the code:
        // let that traffic pass before VerifyOtp is measured.
        if (step == "VerifyOtp") absl::SleepFor(absl::Milliseconds(300));
        before = monitor.RedisNow();
        return;
      }
      std::optional<RedisCounters> after = monitor.RedisNow();
      if (!before || !after) return;
      RedisCounters d = Delta(*before, *after);
      auto it = best.find(step);
      if (it == best.end() || d.reads_processed < it->second.reads_processed) best[step] = d;
    };
    LoginOutcome outcome = driver.Login(pool, pool.user(static_cast<size_t>(index)), 0, &hook);
    pool.Release(index);
    if (!outcome.succeeded) {
      Log()->warn("round-trip probe login failed at {}: {}", outcome.error_step, outcome.error);
    }
  }
  std::map<std::string, RedisCost> out;
  for (const auto& [step, d] : best) out[step] = RedisCost{d.reads_processed, d.calls};
  return out;
}

// OtpService.VerifyCode with the right code, called directly: the Redis cost of an OTP verify
// itself (the target: exactly one round trip).
std::optional<OtpVerifyCost> OtpVerifyRoundTrips(LoginDriver& driver,
                                                 testing::FakeGateway& gateway, UserPool& pool,
                                                 Monitor& monitor, absl::Duration code_timeout) {
  otppb::OtpService::Stub* otp = driver.otps();
  if (otp == nullptr || !monitor.has_redis()) return std::nullopt;
  std::optional<RedisCounters> best;
  int accepted = 0;
  for (int i = 0; i < 7; ++i) {
    const int index = pool.Acquire(absl::Seconds(5));
    if (index < 0) break;
    LoadUser& user = pool.user(static_cast<size_t>(index));
    gateway.Expect(user.phone);
    otppb::SendCodeRequest send;
    send.set_directory_id(pool.directory_id());
    send.set_user_id(user.id);
    send.set_channel(otppb::CHANNEL_SMS);
    send.set_destination(user.phone);
    otppb::SendCodeResponse sent;
    grpc::Status s = otp->SendCode(driver.Context().get(), send, &sent);
    std::optional<std::string> code;
    if (s.ok()) code = gateway.Wait(user.phone, code_timeout);
    // The sender acknowledges and deletes its job right after the gateway answered: let that
    // traffic pass so it does not land in the window measured below.
    absl::SleepFor(absl::Milliseconds(300));
    if (code) {
      otppb::VerifyCodeRequest verify;
      verify.set_directory_id(pool.directory_id());
      verify.set_challenge_id(sent.challenge_id());
      verify.set_code(*code);
      otppb::VerifyCodeResponse verified;
      std::optional<RedisCounters> before = monitor.RedisNow();
      s = otp->VerifyCode(driver.Context().get(), verify, &verified);
      std::optional<RedisCounters> after = monitor.RedisNow();
      if (s.ok() && verified.result() == otppb::VERIFY_RESULT_ACCEPTED && before && after) {
        ++accepted;
        RedisCounters d = Delta(*before, *after);
        if (!best || d.reads_processed < best->reads_processed) best = d;
      }
    }
    pool.Release(index);
  }
  if (!best) return std::nullopt;
  return OtpVerifyCost{RedisCost{best->reads_processed, best->calls}, accepted};
}

}  // namespace

absl::StatusOr<LoadgenResult> RunLoadgen(const Options& options) {
  // What to set up.
  std::vector<std::string> names = options.scenarios;
  if (names.empty() || (names.size() == 1 && names[0] == "all")) {
    names = {"password", "password+sms", "password+email", "passkey", "mixed"};
  }
  std::map<Scenario, bool> needed;
  for (const std::string& name : names) {
    if (name == "mixed") {
      for (Scenario s : kAllScenarios) needed[s] = true;
      continue;
    }
    absl::StatusOr<Scenario> s = ParseScenario(name);
    if (!s.ok()) return s.status();
    needed[*s] = true;
  }
  std::optional<Scenario> overload_scenario;
  if (options.overload) {
    absl::StatusOr<Scenario> s = ParseScenario(options.overload_scenario);
    if (!s.ok()) return s.status();
    overload_scenario = *s;
    needed[*s] = true;
  }
  const bool otp_needed = needed.count(Scenario::kPasswordSms) ||
                          needed.count(Scenario::kPasswordEmail);
  if (options.users < options.concurrency && (otp_needed || needed.count(Scenario::kPasskey))) {
    Log()->warn("--users ({}) below --concurrency ({}): OTP and passkey logins of one user never "
                "overlap, so some workers will wait", options.users, options.concurrency);
  }

  std::shared_ptr<RedisClient> redis;
  if (!options.redis_url.empty() || !options.redis_cluster_nodes.empty()) {
    absl::StatusOr<RedisOptions> ro = RedisOptions();
    if (options.redis_cluster_nodes.empty()) ro = ParseRedisUrl(options.redis_url);
    if (!ro.ok()) return ro.status();
    ro->cluster_nodes = options.redis_cluster_nodes;
    ro->pool_size = 1;
    ro->command_timeout = absl::Seconds(5);
    ro->client_name = "tally-loadgen";
    redis = std::make_shared<RedisClient>(*ro);
    if (absl::Status s = redis->Ping(); !s.ok()) return s;
  }
  Monitor monitor(options.services, redis, options.metrics_addresses);

  testing::FakeGateway::Options gateway_options;
  gateway_options.listen = options.otp_listen;
  gateway_options.token = options.otp_token;
  gateway_options.record = false;
  testing::FakeGateway gateway(gateway_options);
  if (otp_needed) {
    if (absl::Status s = gateway.Start(); !s.ok()) return s;
    Log()->info("SMS/e-mail gateway on port {}", gateway.port());
  }

  LoadgenResult result;
  LoginDriver driver(options.driver, gateway);
  const std::string run = RandomHex(4);
  std::map<Scenario, std::unique_ptr<UserPool>> pools;
  const absl::Time setup_start = absl::Now();
  for (const auto& [scenario, unused] : needed) {
    Log()->info("set-up: {} users for {}", options.users, ScenarioName(scenario));
    absl::StatusOr<std::unique_ptr<UserPool>> pool =
        driver.Setup(scenario, options.users, options.setup_parallelism, run);
    if (!pool.ok()) {
      return absl::Status(pool.status().code(), absl::StrCat("set-up of ", ScenarioName(scenario),
                                                             ": ", pool.status().message()));
    }
    pools[scenario] = *std::move(pool);
  }
  result.setup_s = absl::ToDoubleSeconds(absl::Now() - setup_start);

  // Probes on the idle cluster, one call at a time.
  Probes& probes = result.probes;
  if (options.probes > 0) {
    Log()->info("probes: single RPCs and Redis round trips per step");
    absl::StatusOr<std::unique_ptr<floors::EchoPeer>> echo_peer = floors::EchoPeer::Start();
    if (!echo_peer.ok()) return echo_peer.status();
    floors::EchoPeer* echo = echo_peer->get();
    UserPool& any = *pools.begin()->second;
    std::vector<HopProbe>& hops = probes.hops;
    opb::StartLoginRequest start;
    start.set_directory_id(any.directory_id());
    start.set_username("loadgen-probe");
    opb::StartLoginResponse started;
    if (driver.logins(0).StartLogin(driver.Context().get(), start, &started).ok()) {
      opb::GetLoginRequest get;
      get.set_login_id(started.state().login_id());
      hops.push_back(Probe("orchestrator LoginService.GetLogin", false, options.probes, monitor,
                           echo, redis.get(), [&] {
                             opb::GetLoginResponse r;
                             return driver.logins(0).GetLogin(driver.Context().get(), get, &r);
                           }));
    }
    if (otppb::OtpService::Stub* otp = driver.otps()) {
      otppb::VerifyCodeRequest verify;
      verify.set_directory_id(any.directory_id());
      verify.set_challenge_id(absl::StrCat("otp_loadgenprobe", run));
      verify.set_code("000000");
      hops.push_back(Probe("otp OtpService.VerifyCode (unknown challenge)", false, options.probes,
                           monitor, echo, redis.get(), [&] {
                             otppb::VerifyCodeResponse r;
                             return otp->VerifyCode(driver.Context().get(), verify, &r);
                           }));
    }
    pkpb::StartAuthenticationRequest discoverable;
    discoverable.set_directory_id(any.directory_id());
    hops.push_back(Probe("passkey PasskeyService.StartAuthentication (discoverable)", false,
                         options.probes, monitor, echo, redis.get(), [&] {
                           pkpb::StartAuthenticationResponse r;
                           return driver.passkeys().StartAuthentication(driver.Context().get(),
                                                                        discoverable, &r);
                         }));
    polpb::EvaluateRequest evaluate;
    evaluate.set_directory_id(any.directory_id());
    evaluate.add_completed_methods(cpb::AUTH_METHOD_PASSWORD);
    hops.push_back(Probe("policy PolicyService.Evaluate", true, options.probes, monitor, echo,
                         redis.get(), [&] {
      polpb::EvaluateResponse r;
      return driver.policies().Evaluate(driver.Context().get(), evaluate, &r);
    }));
    credpb::FindUserRequest find;
    find.set_directory_id(any.directory_id());
    find.set_username(any.user(0).username);
    hops.push_back(Probe("credential CredentialService.FindUser", true, options.probes, monitor,
                         echo, redis.get(), [&] {
                           credpb::FindUserResponse r;
                           return driver.users().FindUser(driver.Context().get(), find, &r);
                         }));
    if (monitor.has_redis()) {
      for (auto& [scenario, pool] : pools) {
        probes.redis_round_trips_per_step[ScenarioName(scenario)] =
            StepRoundTrips(driver, *pool, monitor, 5);
      }
      auto sms = pools.find(Scenario::kPasswordSms);
      if (sms != pools.end()) {
        probes.otp_verify = OtpVerifyRoundTrips(driver, gateway, *sms->second, monitor,
                                                options.driver.code_timeout);
      }
    }
  }

  floors::FloorOptions fo;
  fo.argon2_memory_kib = options.argon2_memory_kib;
  fo.argon2_iterations = options.argon2_iterations;
  fo.argon2_parallelism = options.argon2_parallelism;
  fo.threads = options.floor_threads;
  fo.duration = options.floors_duration;
  fo.redis_url = options.redis_url;
  auto measure_floors = [&fo](const char* when) -> absl::StatusOr<floors::Floors> {
    Log()->info("floors ({}): Argon2id, gRPC echo, Redis", when);
    absl::StatusOr<floors::Floors> f = floors::MeasureFloors(fo);
    if (!f.ok()) {
      return absl::Status(f.status().code(), absl::StrCat("floors: ", f.status().message()));
    }
    return f;
  };
  if (options.floors) {
    absl::StatusOr<floors::Floors> before = measure_floors("before");
    if (!before.ok()) return before.status();
    result.floors_before = *before;
  }

  Runner runner(options, driver, monitor);
  for (const std::string& name : names) {
    std::vector<UserPool*> selected;
    if (name == "mixed") {
      for (Scenario s : kAllScenarios) selected.push_back(pools[s].get());
    } else {
      selected.push_back(pools[*ParseScenario(name)].get());
    }
    const bool hash_bound =
        name == "password" || name == "password+sms" || name == "password+email";
    const int concurrency = hash_bound && options.password_concurrency > 0
                                ? options.password_concurrency
                                : options.concurrency;
    Log()->info("scenario {}: {} workers", name, concurrency);
    result.scenarios.push_back(runner.Closed(name, selected, concurrency));
  }
  if (options.floors) {
    absl::StatusOr<floors::Floors> after = measure_floors("after");
    if (!after.ok()) return after.status();
    result.floors_after = *after;
    result.floors = floors::BestOf(*result.floors_before, *after);
  }

  if (overload_scenario) {
    double rate = options.overload_rate;
    if (rate <= 0) {
      for (const RunResult& s : result.scenarios) {
        if (s.scenario == options.overload_scenario) rate = 2 * s.logins_per_s;
      }
    }
    if (rate <= 0) {
      return absl::InvalidArgumentError(
          "the overload run needs --overload_rate or a measured run of --overload_scenario");
    }
    Log()->info("overload: {} at {:.1f} logins/s", options.overload_scenario, rate);
    result.overload = runner.Open(options.overload_scenario, *pools[*overload_scenario], rate);
  }

  if (otp_needed) {
    const testing::FakeGateway::Counts counts = gateway.counts();
    result.otp_endpoint =
        GatewayCounts{counts.requests, counts.rejected, counts.delivered, counts.unexpected};
    gateway.Stop();
  }
  Parameters& p = result.parameters;
  p.concurrency = options.concurrency;
  p.password_concurrency =
      options.password_concurrency > 0 ? options.password_concurrency : options.concurrency;
  p.duration_s = absl::ToDoubleSeconds(options.duration);
  p.count = options.count;
  p.warmup_s = absl::ToDoubleSeconds(options.warmup);
  p.users_per_pool = options.users;
  p.orchestrator_connections = options.driver.channels;
  p.argon2 = {options.argon2_memory_kib, options.argon2_iterations, options.argon2_parallelism};
  p.scenarios = names;
  p.overload_scenario = options.overload ? options.overload_scenario : "";
  return result;
}

}  // namespace tally::loadgen
