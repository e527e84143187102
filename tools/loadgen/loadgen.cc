#include "tools/loadgen/loadgen.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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
using nlohmann::json;

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
// Redis round trips and commands per login.
json UsageJson(const Monitor::Snapshot& before, const Monitor::Snapshot& after, int64_t logins) {
  json services = json::object();
  double total_cpu_ms = 0;
  for (const auto& [name, end] : after.procs) {
    auto it = before.procs.find(name);
    if (it == before.procs.end()) continue;
    const double cpu = end.cpu_seconds - it->second.cpu_seconds;
    const double per_login_ms = logins > 0 ? cpu * 1000.0 / static_cast<double>(logins) : 0;
    if (name != "loadgen") total_cpu_ms += per_login_ms;
    services[name] = {{"cpu_s", cpu},
                      {"cpu_ms_per_login", per_login_ms},
                      {"rss_kib", end.rss_kib},
                      {"peak_rss_kib", end.hwm_kib}};
  }
  json out = {{"services", services}, {"cluster_cpu_ms_per_login", total_cpu_ms}};
  if (before.redis && after.redis && logins > 0) {
    RedisCounters d = Delta(*before.redis, *after.redis);
    json commands = json::object();
    for (const auto& [name, calls] : d.calls) {
      commands[name] = static_cast<double>(calls) / static_cast<double>(logins);
    }
    out["redis"] = {
        {"round_trips_per_login",
         static_cast<double>(d.reads_processed) / static_cast<double>(logins)},
        {"commands_per_login", commands}};
  }
  if (before.grpc_calls && after.grpc_calls && logins > 0) {
    json by_method = json::object();
    int64_t total = 0;
    for (const auto& [method, calls] : *after.grpc_calls) {
      auto it = before.grpc_calls->find(method);
      int64_t d = calls - (it == before.grpc_calls->end() ? 0 : it->second);
      // A counter that went down was reset (a service restarted): it counted from zero.
      if (d < 0) d = calls;
      if (d == 0) continue;
      total += d;
      by_method[method] = static_cast<double>(d) / static_cast<double>(logins);
    }
    out["grpc_calls_per_login"] = static_cast<double>(total) / static_cast<double>(logins);
    out["grpc_calls_per_login_by_method"] = by_method;
  }
  return out;
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

json RecorderJson(const RunRecorder& r, double window_s) {
  json steps = json::object();
  for (const auto& [name, samples] : r.steps) steps[name] = ToJson(samples.Summarize());
  json errors = json::object();
  for (const auto& [name, n] : r.errors) errors[name] = n;
  return {{"window_s", window_s},
          {"logins", r.succeeded},
          {"failed", r.failed},
          {"logins_per_s", window_s > 0 ? static_cast<double>(r.succeeded) / window_s : 0},
          {"latency", ToJson(r.login.Summarize())},
          {"steps", steps},
          {"errors", errors}};
}

class Runner {
 public:
  Runner(const Options& options, LoginDriver& driver, Monitor& monitor)
      : options_(options), driver_(driver), monitor_(monitor) {}

  // Closed loop: `concurrency` workers, each running one login after another.
  json Closed(const std::string& name, const std::vector<UserPool*>& pools, int concurrency) {
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
    json out = RecorderJson(total, absl::ToDoubleSeconds(window_end - measure_from));
    out["scenario"] = name;
    out["concurrency"] = workers;
    size_t users = 0;
    for (UserPool* p : pools) users += p->size();
    out["users"] = users;
    out.update(UsageJson(before, after, total.succeeded));
    return out;
  }

  // Open loop: logins start at `rate` per second whatever the cluster does; latency counts
  // from the scheduled start, so a generator that falls behind shows up instead of hiding.
  json Open(const std::string& name, UserPool& pool, double rate) {
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
    json out = RecorderJson(total, absl::ToDoubleSeconds(end - measure_from));
    out["scenario"] = name;
    out["offered_rate"] = rate;
    out["offered"] = offered;
    out["generator_saturated"] = saturated;
    out["no_free_user"] = no_free_user.load();
    out["max_in_flight"] = workers;
    int64_t exhausted = 0;
    for (const auto& [key, n] : total.errors) {
      if (absl::EndsWith(key, "RESOURCE_EXHAUSTED")) exhausted += n;
    }
    out["resource_exhausted"] = exhausted;
    out["refused_latency"] = ToJson(total.refused.Summarize());
    json memory = json::object();
    for (const auto& [svc, p] : rss_after.procs) {
      auto b = rss_before.procs.find(svc);
      if (b == rss_before.procs.end()) continue;
      absl::MutexLock lock(&mu);
      memory[svc] = {{"rss_before_kib", b->second.rss_kib},
                     {"rss_after_kib", p.rss_kib},
                     {"rss_max_during_kib", max_rss[svc]},
                     {"peak_rss_kib", p.hwm_kib}};
    }
    out["memory"] = memory;
    out.update(UsageJson(before, after, total.succeeded));
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
json Probe(const std::string& what, bool postgres, int probes, Monitor& monitor,
           floors::EchoPeer* echo, RedisClient* redis,
           const std::function<grpc::Status()>& call) {
  for (int i = 0; i < 20; ++i) (void)call();
  LatencySamples samples, echo_samples, redis_samples;
  int64_t errors = 0;
  std::string last_error;
  for (int i = 0; i < probes; ++i) {
    const absl::Time start = absl::Now();
    grpc::Status s = call();
    if (!s.ok()) {
      ++errors;
      last_error = CodeName(s.error_code());
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
  json out = {{"rpc", what}, {"postgres", postgres}, {"p50_us", summary.p50_us},
              {"p99_us", summary.p99_us}, {"calls", summary.count}, {"errors", errors}};
  if (echo_samples.size() > 0) out["echo_p50_us"] = echo_samples.Summarize().p50_us;
  if (redis_samples.size() > 0) out["redis_p50_us"] = redis_samples.Summarize().p50_us;
  if (!last_error.empty()) out["last_error"] = last_error;
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
    if (best) {
      out["redis_round_trips"] = best->reads_processed;
      out["redis_commands"] = best->calls;
    }
  }
  return out;
}

// Redis round trips and commands of each step of a login, one login at a time (the fewest
// over `logins` logins per step, so background traffic drops out).
json StepRoundTrips(LoginDriver& driver, UserPool& pool, Monitor& monitor, int logins) {
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
  json out = json::object();
  for (const auto& [step, d] : best) {
    out[step] = {{"redis_round_trips", d.reads_processed}, {"redis_commands", d.calls}};
  }
  return out;
}

// OtpService.VerifyCode with the right code, called directly: the Redis cost of an OTP verify
// itself (the target: exactly one round trip).
json OtpVerifyRoundTrips(LoginDriver& driver, OtpInbox& inbox, UserPool& pool, Monitor& monitor,
                         absl::Duration code_timeout) {
  otppb::OtpService::Stub* otp = driver.otps();
  json out = json::object();
  if (otp == nullptr || !monitor.has_redis()) return out;
  std::optional<RedisCounters> best;
  int accepted = 0;
  for (int i = 0; i < 7; ++i) {
    const int index = pool.Acquire(absl::Seconds(5));
    if (index < 0) break;
    LoadUser& user = pool.user(static_cast<size_t>(index));
    inbox.Expect(user.phone);
    otppb::SendCodeRequest send;
    send.set_directory_id(pool.directory_id());
    send.set_user_id(user.id);
    send.set_channel(otppb::CHANNEL_SMS);
    send.set_destination(user.phone);
    otppb::SendCodeResponse sent;
    grpc::Status s = otp->SendCode(driver.Context().get(), send, &sent);
    std::optional<std::string> code;
    if (s.ok()) code = inbox.Wait(user.phone, code_timeout);
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
  if (best) {
    out = {{"redis_round_trips", best->reads_processed},
           {"redis_commands", best->calls},
           {"samples", accepted}};
  }
  return out;
}

json Ratio(double value, double base) { return base > 0 ? json(value / base) : json(nullptr); }

// The targets, each with the measured value, met or missed and by how much.
json Targets(const json& result) {
  json targets = json::array();
  if (!result.contains("floors") || !result["floors"].is_object()) return targets;
  const json& f = result["floors"];
  const double argon_nt = f.value("argon2_verifies_per_s_nt", 0.0);
  const double hash_ms = f.value("argon2_verify_ms_1t", 0.0);
  const double echo = f.value("grpc_echo_p50_us_sync", 0.0);
  const double redis_p50 = f.value("redis_rtt_p50_us", 0.0);
  auto add = [&](const std::string& name, const std::string& target, double value,
                 double goal, bool at_least, const std::string& unit) {
    const bool met = at_least ? value >= goal : value <= goal;
    const double margin = goal != 0 ? (value - goal) / goal * 100.0 : 0;
    targets.push_back({{"name", name},
                       {"target", target},
                       {"value", value},
                       {"goal", goal},
                       {"unit", unit},
                       {"met", met},
                       {"margin_pct", margin}});
  };
  for (const json& s : result.value("scenarios", json::array())) {
    const std::string name = s.value("scenario", "");
    const double lps = s.value("logins_per_s", 0.0);
    if ((name == "password" || name == "password+sms" || name == "password+email") &&
        argon_nt > 0) {
      add(absl::StrCat(name, " logins/s vs Argon2id verifies/s (", f.value("threads", 0),
                       " threads)"),
          ">= 0.85 x raw Argon2id rate", lps / argon_nt, 0.85, true, "ratio");
    }
    if (name == "passkey") add("passkey logins/s", ">= 1500 logins/s", lps, 1500, true, "logins/s");
  }
  const json& probes = result.value("probes", json::object());
  if (probes.contains("otp_verify") && probes["otp_verify"].contains("redis_round_trips")) {
    const double rt = probes["otp_verify"]["redis_round_trips"].get<double>();
    targets.push_back({{"name", "Redis round trips per OTP verify (OtpService.VerifyCode)"},
                       {"target", "exactly 1"},
                       {"value", rt},
                       {"goal", 1},
                       {"unit", "round trips"},
                       {"met", rt == 1},
                       {"margin_pct", (rt - 1) * 100.0}});
  }
  for (const json& p : probes.value("hops", json::array())) {
    if (p.value("postgres", true) || !p.contains("redis_round_trips")) continue;
    // The echo and PING interleaved with the probe's calls when measured, else the floors.
    const double hop_echo = p.value("echo_p50_us", echo);
    const double hop_redis = p.value("redis_p50_us", redis_p50);
    if (hop_echo <= 0) continue;
    const double added =
        p.value("p50_us", 0.0) - p["redis_round_trips"].get<double>() * hop_redis;
    add(absl::StrCat("hop ", p.value("rpc", ""), ": p50 minus its Redis round trips, / echo p50"),
        "<= 1.5 x bare echo p50", added / hop_echo, 1.5, false, "x echo p50");
  }
  if (result.contains("overload") && result["overload"].is_object() && hash_ms > 0) {
    const json& o = result["overload"];
    const double p99_ms = o["latency"].value("p99_us", 0.0) / 1000.0;
    add("overload: admitted logins' p99 / one Argon2id verify", "<= 4 x one hash time",
        p99_ms / hash_ms, 4, false, "x hash time");
    const double refused = static_cast<double>(o.value("resource_exhausted", 0));
    const double excess = std::max(0.0, static_cast<double>(o.value("offered", 0)) -
                                             static_cast<double>(o.value("logins", 0)));
    add("overload: excess answered RESOURCE_EXHAUSTED (share of offered-minus-admitted)",
        ">= 0.9 of the excess", excess > 0 ? refused / excess : 1.0, 0.9, true, "share");
    const double refused_p99_ms = o["refused_latency"].value("p99_us", 0.0) / 1000.0;
    if (refused > 0) {
      add("overload: RESOURCE_EXHAUSTED answer p99 / one Argon2id verify",
          "<= 1 x one hash time (quickly)", refused_p99_ms / hash_ms, 1, false, "x hash time");
    }
    double worst_growth = 0;
    std::string worst;
    // A named copy: items() of a temporary would dangle.
    const json memory_of_o = o.value("memory", json::object());
    for (const auto& [svc, m] : memory_of_o.items()) {
      // The Tally services only. Redis keeps every started login for its TTL (10 minutes), so
      // its data grows with the logins offered and is bounded by the TTL, not by a queue; the
      // memory table shows it.
      if (svc == "loadgen" || svc == "redis") continue;
      const double b = m.value("rss_before_kib", 0.0);
      const double a = m.value("rss_after_kib", 0.0);
      if (b > 0 && (a - b) / b > worst_growth) {
        worst_growth = (a - b) / b;
        worst = svc;
      }
    }
    add(absl::StrCat("overload: RSS growth of the Tally services after the run (worst: ",
                     worst.empty() ? "-" : worst, ")"),
        "flat: <= 10% growth", worst_growth, 0.10, false, "fraction");
  }
  return targets;
}

// Ratios printed beside the results.
json Ratios(const json& result) {
  json ratios = json::object();
  if (!result.contains("floors") || !result["floors"].is_object()) return ratios;
  const json& f = result["floors"];
  const double argon_nt = f.value("argon2_verifies_per_s_nt", 0.0);
  const double argon_1t = f.value("argon2_verifies_per_s_1t", 0.0);
  const double echo = f.value("grpc_echo_p50_us_sync", 0.0);
  for (const json& s : result.value("scenarios", json::array())) {
    json r = {{"logins_per_s_over_argon2_nt", Ratio(s.value("logins_per_s", 0.0), argon_nt)},
              {"logins_per_s_over_argon2_1t", Ratio(s.value("logins_per_s", 0.0), argon_1t)}};
    json steps = json::object();
    // A named copy: items() of a temporary would dangle.
    const json steps_of_s = s.value("steps", json::object());
    for (const auto& [step, summary] : steps_of_s.items()) {
      steps[step] = Ratio(summary.value("p50_us", 0.0), echo);
    }
    r["step_p50_over_echo_p50"] = steps;
    ratios[s.value("scenario", "")] = r;
  }
  json hops = json::object();
  for (const json& p : result.value("probes", json::object()).value("hops", json::array())) {
    hops[p.value("rpc", "")] = Ratio(p.value("p50_us", 0.0), p.value("echo_p50_us", echo));
  }
  ratios["hop_p50_over_echo_p50"] = hops;
  return ratios;
}

}  // namespace

json BestFloors(const json& before, const json& after) {
  json best = before;
  for (const char* key : {"argon2_verifies_per_s_1t", "argon2_verifies_per_s_nt",
                          "grpc_echo_capacity_per_s", "grpc_echo_capacity_per_s_callback",
                          "grpc_echo_capacity_per_s_cross_process"}) {
    best[key] = std::max(before.value(key, 0.0), after.value(key, 0.0));
  }
  for (const char* key : {"argon2_verify_ms_1t", "argon2_verify_ms_nt", "grpc_echo_p50_us_sync",
                          "grpc_echo_p99_us_sync", "grpc_echo_p50_us_callback",
                          "grpc_echo_p99_us_callback", "grpc_echo_cpu_us_per_call",
                          "grpc_echo_cpu_us_per_call_callback",
                          "grpc_echo_cpu_us_per_call_cross_process", "redis_rtt_p50_us",
                          "redis_rtt_p99_us", "redis_cpu_us_per_round_trip"}) {
    const double a = before.value(key, 0.0), b = after.value(key, 0.0);
    best[key] = a > 0 && b > 0 ? std::min(a, b) : std::max(a, b);
  }
  return best;
}

absl::StatusOr<json> RunLoadgen(const Options& options) {
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
  if (!options.redis_url.empty()) {
    absl::StatusOr<RedisOptions> ro = ParseRedisUrl(options.redis_url);
    if (!ro.ok()) return ro.status();
    ro->pool_size = 1;
    ro->command_timeout = absl::Seconds(5);
    ro->client_name = "tally-loadgen";
    redis = std::make_shared<RedisClient>(*ro);
    if (absl::Status s = redis->Ping(); !s.ok()) return s;
  }
  Monitor monitor(options.services, redis, options.metrics_addresses);

  OtpInbox inbox;
  OtpHttpEndpoint endpoint(inbox, options.otp_token);
  json result = json::object();
  if (otp_needed) {
    absl::StatusOr<int> port = endpoint.Start(options.otp_listen);
    if (!port.ok()) return port.status();
    Log()->info("OTP gateway endpoint on port {}", *port);
    result["otp_endpoint_port"] = *port;
  }

  LoginDriver driver(options.driver, inbox);
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
  result["setup_s"] = absl::ToDoubleSeconds(absl::Now() - setup_start);

  // Probes on the idle cluster, one call at a time.
  json probes = json::object();
  if (options.probes > 0) {
    Log()->info("probes: single RPCs and Redis round trips per step");
    absl::StatusOr<std::unique_ptr<floors::EchoPeer>> echo_peer = floors::EchoPeer::Start();
    if (!echo_peer.ok()) return echo_peer.status();
    floors::EchoPeer* echo = echo_peer->get();
    UserPool& any = *pools.begin()->second;
    json hops = json::array();
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
    probes["hops"] = hops;
    if (monitor.has_redis()) {
      json steps = json::object();
      for (auto& [scenario, pool] : pools) {
        steps[ScenarioName(scenario)] = StepRoundTrips(driver, *pool, monitor, 5);
      }
      probes["redis_round_trips_per_step"] = steps;
      auto sms = pools.find(Scenario::kPasswordSms);
      if (sms != pools.end()) {
        probes["otp_verify"] =
            OtpVerifyRoundTrips(driver, inbox, *sms->second, monitor, options.driver.code_timeout);
      }
    }
  }
  result["probes"] = probes;

  floors::FloorOptions fo;
  fo.argon2_memory_kib = options.argon2_memory_kib;
  fo.argon2_iterations = options.argon2_iterations;
  fo.argon2_parallelism = options.argon2_parallelism;
  fo.threads = options.floor_threads;
  fo.duration = options.floors_duration;
  fo.redis_url = options.redis_url;
  fo.echo_server_binary = options.echo_server_binary;
  auto measure_floors = [&fo](const char* when) -> absl::StatusOr<json> {
    Log()->info("floors ({}): Argon2id, gRPC echo, Redis", when);
    absl::StatusOr<floors::Floors> f = floors::MeasureFloors(fo);
    if (!f.ok()) {
      return absl::Status(f.status().code(), absl::StrCat("floors: ", f.status().message()));
    }
    return floors::ToJson(*f);
  };
  if (options.floors) {
    absl::StatusOr<json> before = measure_floors("before");
    if (!before.ok()) return before.status();
    result["floors_before"] = *before;
  }

  Runner runner(options, driver, monitor);
  json scenarios = json::array();
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
    scenarios.push_back(runner.Closed(name, selected, concurrency));
  }
  result["scenarios"] = scenarios;
  if (options.floors) {
    absl::StatusOr<json> after = measure_floors("after");
    if (!after.ok()) return after.status();
    result["floors_after"] = *after;
    result["floors"] = BestFloors(result["floors_before"], *after);
  }

  if (overload_scenario) {
    double rate = options.overload_rate;
    if (rate <= 0) {
      for (const json& s : scenarios) {
        if (s.value("scenario", "") == options.overload_scenario) {
          rate = 2 * s.value("logins_per_s", 0.0);
        }
      }
    }
    if (rate <= 0) {
      return absl::InvalidArgumentError(
          "the overload run needs --overload_rate or a measured run of --overload_scenario");
    }
    Log()->info("overload: {} at {:.1f} logins/s", options.overload_scenario, rate);
    result["overload"] = runner.Open(options.overload_scenario, *pools[*overload_scenario], rate);
  }

  if (otp_needed) {
    result["otp_endpoint"] = {{"requests", endpoint.requests()},
                              {"rejected", endpoint.rejected()},
                              {"codes_delivered", inbox.delivered()},
                              {"unexpected", inbox.unexpected()}};
    endpoint.Stop();
  }
  result["parameters"] = {
      {"concurrency", options.concurrency},
      {"password_concurrency",
       options.password_concurrency > 0 ? options.password_concurrency : options.concurrency},
      {"duration_s", absl::ToDoubleSeconds(options.duration)},
      {"count", options.count},
      {"warmup_s", absl::ToDoubleSeconds(options.warmup)},
      {"users_per_pool", options.users},
      {"orchestrator_connections", options.driver.channels},
      {"argon2", {{"memory_kib", options.argon2_memory_kib},
                  {"iterations", options.argon2_iterations},
                  {"parallelism", options.argon2_parallelism}}},
      {"scenarios", names},
      {"overload_scenario", options.overload ? options.overload_scenario : ""}};
  result["ratios"] = Ratios(result);
  result["targets"] = Targets(result);
  return result;
}

namespace {

std::string Us(const json& v) {
  if (!v.is_number()) return "-";
  const double us = v.get<double>();
  if (us >= 10000) return absl::StrFormat("%.1f ms", us / 1000);
  if (us >= 1000) return absl::StrFormat("%.2f ms", us / 1000);
  return absl::StrFormat("%.0f us", us);
}

std::string Num(const json& v, const char* format = "%.2f") {
  if (!v.is_number()) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v.get<double>());
  return buffer;
}

}  // namespace

std::string FormatTable(const json& result) {
  std::string out;
  auto line = [&out](const std::string& s) { absl::StrAppend(&out, s, "\n"); };
  if (result.contains("floors")) {
    const json& f = result["floors"];
    line("Floors");
    line(absl::StrFormat("  Argon2id verify (1 thread)      %s  (%s/s)",
                         Us(f.value("argon2_verify_ms_1t", 0.0) * 1000),
                         Num(f["argon2_verifies_per_s_1t"], "%.1f")));
    line(absl::StrFormat("  Argon2id verifies/s (%d thr.)    %s/s", f.value("threads", 0),
                         Num(f["argon2_verifies_per_s_nt"], "%.1f")));
    line(absl::StrFormat("  gRPC echo p50/p99 sync          %s / %s", Us(f["grpc_echo_p50_us_sync"]),
                         Us(f["grpc_echo_p99_us_sync"])));
    line(absl::StrFormat("  gRPC echo p50/p99 callback      %s / %s",
                         Us(f["grpc_echo_p50_us_callback"]), Us(f["grpc_echo_p99_us_callback"])));
    line(absl::StrFormat("  gRPC echo capacity sync/callback %s / %s calls/s, %s / %s us CPU "
                         "per call",
                         Num(f["grpc_echo_capacity_per_s"], "%.0f"),
                         Num(f["grpc_echo_capacity_per_s_callback"], "%.0f"),
                         Num(f["grpc_echo_cpu_us_per_call"], "%.1f"),
                         Num(f["grpc_echo_cpu_us_per_call_callback"], "%.1f")));
    if (f.value("grpc_echo_cross_process_measured", false)) {
      line(absl::StrFormat("  gRPC echo capacity, other process %s calls/s, %s us CPU per call",
                           Num(f["grpc_echo_capacity_per_s_cross_process"], "%.0f"),
                           Num(f["grpc_echo_cpu_us_per_call_cross_process"], "%.1f")));
    }
    if (f.value("grpc_relay_measured", false)) {
      line(absl::StrFormat("  gRPC relay (%d peer calls) sync/callback %s / %s calls/s, %s / %s us "
                           "CPU per call, the relay's %s / %s",
                           f.value("grpc_relay_peer_calls", 0),
                           Num(f["grpc_relay_per_s_sync"], "%.0f"),
                           Num(f["grpc_relay_per_s_callback"], "%.0f"),
                           Num(f["grpc_relay_cpu_us_per_call_sync"], "%.1f"),
                           Num(f["grpc_relay_cpu_us_per_call_callback"], "%.1f"),
                           Num(f["grpc_relay_middle_cpu_us_per_call_sync"], "%.1f"),
                           Num(f["grpc_relay_middle_cpu_us_per_call_callback"], "%.1f")));
    }
    line(absl::StrFormat("  Redis round trip p50/p99        %s / %s, %s us CPU",
                         Us(f["redis_rtt_p50_us"]), Us(f["redis_rtt_p99_us"]),
                         Num(f["redis_cpu_us_per_round_trip"], "%.1f")));
    line("");
  }
  const json ratios = result.value("ratios", json::object());
  for (const json& s : result.value("scenarios", json::array())) {
    const std::string name = s.value("scenario", "");
    const json r = ratios.value(name, json::object());
    line(absl::StrFormat("Scenario %s: %s logins/s over %.1f s (%d workers), %d ok, %d failed",
                         name, Num(s["logins_per_s"], "%.1f"), s.value("window_s", 0.0),
                         s.value("concurrency", 0), s.value("logins", 0), s.value("failed", 0)));
    if (r.contains("logins_per_s_over_argon2_nt")) {
      line(absl::StrFormat("  logins/s / Argon2id verifies/s (all cores): %s",
                           Num(r["logins_per_s_over_argon2_nt"], "%.3f")));
    }
    line(absl::StrFormat("  %-16s %10s %10s %10s %10s %10s %8s", "step", "p50", "p95", "p99",
                         "max", "count", "/echo"));
    auto row = [&](const std::string& step, const json& l, const json& ratio) {
      line(absl::StrFormat("  %-16s %10s %10s %10s %10s %10d %8s", step, Us(l["p50_us"]),
                           Us(l["p95_us"]), Us(l["p99_us"]), Us(l["max_us"]),
                           l.value("count", 0), Num(ratio, "%.1f")));
    };
    row("login", s["latency"], json(nullptr));
    // A named copy: items() of a temporary would dangle.
    const json steps_of_s = s.value("steps", json::object());
    for (const auto& [step, l] : steps_of_s.items()) {
      row(step, l, r.value("step_p50_over_echo_p50", json::object()).value(step, json(nullptr)));
    }
    // A named copy: items() of a temporary would dangle.
    const json errors_of_s = s.value("errors", json::object());
    for (const auto& [error, n] : errors_of_s.items()) {
      line(absl::StrFormat("  error %-40s %d", error, n.get<int64_t>()));
    }
    // A named copy: items() of a temporary would dangle.
    const json services_of_s = s.value("services", json::object());
    for (const auto& [svc, u] : services_of_s.items()) {
      line(absl::StrFormat("  %-14s cpu %8s ms/login   rss %7.1f MiB   peak %7.1f MiB", svc,
                           Num(u["cpu_ms_per_login"], "%.3f"), u.value("rss_kib", 0) / 1024.0,
                           u.value("peak_rss_kib", 0) / 1024.0));
    }
    if (s.contains("redis")) {
      line(absl::StrFormat("  redis round trips/login %s",
                           Num(s["redis"]["round_trips_per_login"], "%.2f")));
    }
    if (s.contains("grpc_calls_per_login")) {
      line(absl::StrFormat("  gRPC calls served/login %s", Num(s["grpc_calls_per_login"], "%.2f")));
    }
    line("");
  }
  const json probes = result.value("probes", json::object());
  if (probes.contains("hops")) {
    line("Single RPCs, one at a time");
    for (const json& p : probes["hops"]) {
      line(absl::StrFormat("  %-58s p50 %9s  p99 %9s  redis rt %s  echo p50 %s",
                           p.value("rpc", ""), Us(p["p50_us"]), Us(p["p99_us"]),
                           p.contains("redis_round_trips") ? p["redis_round_trips"].dump() : "-",
                           Us(p.value("echo_p50_us", json(nullptr)))));
    }
    line("");
  }
  if (probes.contains("redis_round_trips_per_step")) {
    line("Redis round trips per login step");
    for (const auto& [scenario, steps] : probes["redis_round_trips_per_step"].items()) {
      std::vector<std::string> parts;
      for (const auto& [step, v] : steps.items()) {
        parts.push_back(absl::StrCat(step, " ", v.value("redis_round_trips", 0)));
      }
      line(absl::StrFormat("  %-16s %s", scenario, absl::StrJoin(parts, ", ")));
    }
    if (probes.contains("otp_verify") && probes["otp_verify"].contains("redis_round_trips")) {
      line(absl::StrFormat("  OtpService.VerifyCode: %d round trip(s), commands %s",
                           probes["otp_verify"].value("redis_round_trips", 0),
                           probes["otp_verify"]["redis_commands"].dump()));
    }
    line("");
  }
  if (result.contains("overload")) {
    const json& o = result["overload"];
    line(absl::StrFormat("Overload (%s, open loop at %s logins/s)", o.value("scenario", ""),
                         Num(o["offered_rate"], "%.1f")));
    line(absl::StrFormat("  offered %d, admitted %d (%s/s), RESOURCE_EXHAUSTED %d, generator "
                         "saturated %d",
                         o.value("offered", 0), o.value("logins", 0),
                         Num(o["logins_per_s"], "%.1f"), o.value("resource_exhausted", 0),
                         o.value("generator_saturated", 0)));
    line(absl::StrFormat("  admitted p50 %s p99 %s max %s; refusals p50 %s p99 %s",
                         Us(o["latency"]["p50_us"]), Us(o["latency"]["p99_us"]),
                         Us(o["latency"]["max_us"]), Us(o["refused_latency"]["p50_us"]),
                         Us(o["refused_latency"]["p99_us"])));
    // A named copy: items() of a temporary would dangle.
    const json errors_of_o = o.value("errors", json::object());
    for (const auto& [error, n] : errors_of_o.items()) {
      line(absl::StrFormat("  error %-40s %d", error, n.get<int64_t>()));
    }
    // A named copy: items() of a temporary would dangle.
    const json memory_of_o = o.value("memory", json::object());
    for (const auto& [svc, m] : memory_of_o.items()) {
      line(absl::StrFormat("  %-14s rss before %7.1f MiB  max during %7.1f MiB  after %7.1f MiB",
                           svc, m.value("rss_before_kib", 0) / 1024.0,
                           m.value("rss_max_during_kib", 0) / 1024.0,
                           m.value("rss_after_kib", 0) / 1024.0));
    }
    line("");
  }
  if (!result.value("targets", json::array()).empty()) {
    line("Targets (issue #8)");
    for (const json& t : result["targets"]) {
      line(absl::StrFormat("  [%s] %s: %s (target %s, %+.0f%%)",
                           t.value("met", false) ? "met   " : "MISSED", t.value("name", ""),
                           Num(t["value"], "%.3f"), t.value("target", ""),
                           t.value("margin_pct", 0.0)));
    }
  }
  return out;
}

}  // namespace tally::loadgen
