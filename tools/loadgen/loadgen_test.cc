#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/server/metrics.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "tools/loadgen/grpc_counters.h"
#include "tools/loadgen/loadgen.h"
#include "tools/loadgen/proc_stats.h"
#include "tools/loadgen/redis_counters.h"
#include "tools/loadgen/result.h"
#include "tools/loadgen/stats.h"

namespace tally::loadgen {
namespace {

TEST(StatsTest, NearestRankPercentiles) {
  LatencySamples samples;
  for (int i = 100; i >= 1; --i) samples.Add(i);
  const LatencySummary s = samples.Summarize();
  EXPECT_EQ(s.count, 100);
  EXPECT_EQ(s.p50_us, 50);
  EXPECT_EQ(s.p95_us, 95);
  EXPECT_EQ(s.p99_us, 99);
  EXPECT_EQ(s.max_us, 100);
  EXPECT_DOUBLE_EQ(s.mean_us, 50.5);
  EXPECT_EQ(LatencySamples().Summarize().count, 0);
  std::vector<double> one = {7};
  EXPECT_EQ(Percentile(one, 99), 7);
}

TEST(StatsTest, RecordersMerge) {
  RunRecorder a, b;
  a.login.Add(1);
  a.errors["SubmitPassword: UNAVAILABLE"] = 2;
  a.succeeded = 1;
  b.login.Add(3);
  b.steps["StartLogin"].Add(5);
  b.errors["SubmitPassword: UNAVAILABLE"] = 1;
  b.failed = 4;
  a.Merge(b);
  EXPECT_EQ(a.login.size(), 2u);
  EXPECT_EQ(a.steps["StartLogin"].size(), 1u);
  EXPECT_EQ(a.errors["SubmitPassword: UNAVAILABLE"], 3);
  EXPECT_EQ(a.succeeded, 1);
  EXPECT_EQ(a.failed, 4);
}

TEST(ProcStatsTest, ParsesStatAndStatus) {
  // A command name with spaces and parentheses.
  const std::string stat =
      "1234 (tally (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
  absl::StatusOr<StatFields> fields = ParseStat(stat);
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->ppid, 1);
  EXPECT_EQ(fields->cpu_ticks, 300);
  EXPECT_EQ(fields->reaped_ticks, 0);
  EXPECT_FALSE(ParseStat("garbage").ok());
  EXPECT_FALSE(ParseStat("1 (x) S 1 2 3").ok());
  const std::string status = "Name:\ttally\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
  EXPECT_EQ(*ParseStatusKib(status, "VmHWM"), 20480);
  EXPECT_EQ(*ParseStatusKib(status, "VmRSS"), 10240);
  EXPECT_FALSE(ParseStatusKib(status, "VmSwap").ok());
  absl::StatusOr<ProcSample> self = SampleProcess(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->hwm_kib, 0);
  EXPECT_GE(self->hwm_kib, self->rss_kib);
}

TEST(ProcStatsTest, ParsesServicePids) {
  absl::StatusOr<std::vector<WatchedService>> s = ParseServicePids("policy:12, otp-sender:34");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].name, "otp-sender");
  EXPECT_EQ((*s)[1].pid, 34);
  EXPECT_TRUE(ParseServicePids("")->empty());
  EXPECT_FALSE(ParseServicePids("policy").ok());
  EXPECT_FALSE(ParseServicePids("policy:x").ok());
  EXPECT_FALSE(ParseServicePids(":12").ok());
  EXPECT_FALSE((*s)[0].with_children);
  absl::StatusOr<std::vector<WatchedService>> tree = ParseServicePids("postgres:56+");
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ((*tree)[0].pid, 56);
  EXPECT_TRUE((*tree)[0].with_children);
  EXPECT_FALSE(ParseServicePids("postgres:+").ok());
}

// A child's CPU counts toward its parent's tree while it runs and after it was reaped.
TEST(ProcStatsTest, TreeCountsChildrenLiveAndReaped) {
  WatchedService self{"self", getpid(), false};
  WatchedService tree{"self", getpid(), true};
  absl::StatusOr<ProcSample> alone_before = SampleService(self);
  absl::StatusOr<ProcSample> tree_before = SampleService(tree);
  ASSERT_TRUE(alone_before.ok() && tree_before.ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Burn CPU until killed.
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  // Wait until the child has used a few ticks (no fixed sleep: a busy machine may be slow).
  double live = 0;
  for (int i = 0; i < 4000 && live < 10 * tick; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
    live = SampleService(tree)->cpu_seconds - tree_before->cpu_seconds -
           (SampleService(self)->cpu_seconds - alone_before->cpu_seconds);
  }
  EXPECT_GE(live, 10 * tick) << "the live child was not counted";
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const double reaped = SampleService(tree)->cpu_seconds - tree_before->cpu_seconds -
                        (SampleService(self)->cpu_seconds - alone_before->cpu_seconds);
  // Each figure is a difference of samples taken a moment apart, and the test's own CPU may gain
  // a tick between them in either figure (seen on a loaded 2-core CI machine): three ticks of
  // slack, and half a tick more for the rounding of tick counts into seconds. A lost child still
  // fails by far: it would leave about none of its ten or more ticks.
  EXPECT_GE(reaped, live - 3.5 * tick) << "the reaped child's CPU was lost";
}

TEST(RedisCountersTest, ParsesInfoAndSubtractsTheProbeItself) {
  const std::string before =
      "# Stats\r\ntotal_reads_processed:100\r\n# Commandstats\r\n"
      "cmdstat_evalsha:calls=10,usec=5,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_info:calls=4,usec=1\r\n";
  const std::string after =
      "# Stats\r\ntotal_reads_processed:103\r\n# Commandstats\r\n"
      "cmdstat_evalsha:calls=12,usec=5\r\ncmdstat_hmget:calls=2,usec=1\r\n"
      "cmdstat_info:calls=5,usec=1\r\n";
  absl::StatusOr<RedisCounters> b = ParseRedisInfo(before);
  absl::StatusOr<RedisCounters> a = ParseRedisInfo(after);
  ASSERT_TRUE(b.ok() && a.ok());
  RedisCounters d = Delta(*b, *a);
  EXPECT_EQ(d.reads_processed, 2);
  EXPECT_EQ(d.calls["evalsha"], 2);
  EXPECT_EQ(d.calls["hmget"], 2);
  EXPECT_EQ(d.calls.count("info"), 0u);
  EXPECT_FALSE(ParseRedisInfo("# Stats\r\n").ok());
}

// The JSON that tools/loadgen/bench_report.py reads: the field names as keys, an absent
// measurement as null, the overload's admitted logins under "run".
TEST(ResultTest, SerializesWithNullForWhatWasNotMeasured) {
  LoadgenResult result;
  RunResult password;
  password.scenario = "password";
  password.logins = 3;
  password.steps["StartLogin"].p50_us = 120;
  password.errors["SubmitPassword: UNAVAILABLE"] = 1;
  password.services["credential"].cpu_ms_per_login = 24.5;
  password.grpc_calls_per_login = 5;
  result.scenarios.push_back(password);
  HopProbe hop;
  hop.rpc = "orchestrator LoginService.GetLogin";
  hop.echo_p50_us = 90;
  hop.redis = RedisCost{1, {{"evalsha", 1}}};
  result.probes.hops.push_back(hop);
  result.overload.emplace().run.logins = 7;
  result.floors = floors::Floors();
  result.floors->argon2_verifies_per_s_nt = 97.7;

  const nlohmann::json j = result;
  const nlohmann::json& s = j["scenarios"][0];
  EXPECT_EQ(s["scenario"], "password");
  EXPECT_EQ(s["logins"], 3);
  EXPECT_EQ(s["steps"]["StartLogin"]["p50_us"], 120.0);
  EXPECT_EQ(s["errors"]["SubmitPassword: UNAVAILABLE"], 1);
  EXPECT_EQ(s["services"]["credential"]["cpu_ms_per_login"], 24.5);
  EXPECT_EQ(s["grpc_calls_per_login"], 5.0);
  EXPECT_TRUE(s["redis"].is_null());
  const nlohmann::json& h = j["probes"]["hops"][0];
  EXPECT_EQ(h["echo_p50_us"], 90.0);
  EXPECT_TRUE(h["redis_p50_us"].is_null());
  EXPECT_EQ(h["redis"]["redis_round_trips"], 1);
  EXPECT_EQ(h["redis"]["redis_commands"]["evalsha"], 1);
  EXPECT_TRUE(j["probes"]["otp_verify"].is_null());
  EXPECT_EQ(j["overload"]["run"]["logins"], 7);
  EXPECT_EQ(j["floors"]["argon2_verifies_per_s_nt"], 97.7);
  EXPECT_TRUE(j["floors_before"].is_null());
  EXPECT_TRUE(j["otp_endpoint"].is_null());
  // And back, for whoever reads a result file in C++.
  const LoadgenResult back = j.get<LoadgenResult>();
  EXPECT_EQ(back.scenarios[0].grpc_calls_per_login, 5.0);
  EXPECT_FALSE(back.scenarios[0].redis.has_value());
  EXPECT_EQ(back.probes.hops[0].redis->redis_round_trips, 1);
}

TEST(GrpcCountersTest, SumsTheCallsServedButNotGrpcsOwnServices) {
  const std::string text =
      "# HELP grpc_server_handled_total RPCs completed on the server.\n"
      "# TYPE grpc_server_handled_total counter\n"
      "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"/tally.credential.v1."
      "CredentialService/FindUser\"} 12\n"
      "grpc_server_handled_total{grpc_code=\"NOT_FOUND\",grpc_method=\"/tally.credential.v1."
      "CredentialService/GetUser\"} 3\n"
      "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"/grpc.health.v1.Health/Check\"}"
      " 40\n"
      "grpc_server_handled_total{x_grpc_method=\"/a.B/Decoy\",grpc_code=\"OK\",grpc_method=\"/"
      "tally.credential.v1.CredentialService/GetUser\"} 2\n"
      "grpc_server_handled_total_other 7\n"
      "grpc_server_handling_seconds_count{grpc_code=\"OK\",grpc_method=\"/a.B/C\"} 12\n";
  absl::StatusOr<HandledCalls> calls = ParseHandledCalls(text);
  ASSERT_TRUE(calls.ok()) << calls.status();
  EXPECT_EQ(*calls, (HandledCalls{{"/tally.credential.v1.CredentialService/FindUser", 12},
                                  {"/tally.credential.v1.CredentialService/GetUser", 5}}));
  EXPECT_TRUE(ParseHandledCalls("")->empty());
  HandledCalls sum = {{"/a.B/C", 1}};
  AddCalls(*calls, sum);
  AddCalls({{"/a.B/C", 2}}, sum);
  EXPECT_EQ(sum, (HandledCalls{{"/a.B/C", 3},
                               {"/tally.credential.v1.CredentialService/FindUser", 12},
                               {"/tally.credential.v1.CredentialService/GetUser", 5}}));
  EXPECT_FALSE(ParseHandledCalls("grpc_server_handled_total{grpc_code=\"OK\"} x\n").ok());
  EXPECT_FALSE(ParseHandledCalls("grpc_server_handled_total{grpc_code=\"OK\"}\n").ok());
  EXPECT_FALSE(ParseHandledCalls("grpc_server_handled_total{grpc_code=\"OK\"} 1\n").ok());
}

TEST(GrpcCountersTest, ScrapesAServersMetricsEndpoint) {
  ServerMetrics metrics;
  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      ServeMetrics("127.0.0.1:0", metrics.shared_registry());
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*exposer)->GetListeningPorts().at(0));
  EXPECT_TRUE(ScrapeHandledCalls(address)->empty());
  metrics.RecordRpc("/tally.otp.v1.OtpService/VerifyCode", grpc::StatusCode::OK, 0.001);
  metrics.RecordRpc("/tally.otp.v1.OtpService/VerifyCode", grpc::StatusCode::OK, 0.001);
  metrics.RecordRpc("/tally.otp.v1.OtpService/SendCode", grpc::StatusCode::UNAVAILABLE, 0.001);
  metrics.RecordRpc("/grpc.health.v1.Health/Check", grpc::StatusCode::OK, 0.001);
  absl::StatusOr<HandledCalls> calls = ScrapeHandledCalls(address);
  ASSERT_TRUE(calls.ok()) << calls.status();
  EXPECT_EQ(*calls, (HandledCalls{{"/tally.otp.v1.OtpService/SendCode", 1},
                                  {"/tally.otp.v1.OtpService/VerifyCode", 2}}));

  exposer->reset();
  EXPECT_EQ(ScrapeHandledCalls(address).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ScrapeHandledCalls("no-port").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GrpcCountersTest, ParsesMetricsAddresses) {
  absl::StatusOr<std::vector<std::string>> addresses =
      ParseMetricsAddresses("127.0.0.1:9100,localhost:9101");
  ASSERT_TRUE(addresses.ok());
  EXPECT_EQ(*addresses, (std::vector<std::string>{"127.0.0.1:9100", "localhost:9101"}));
  EXPECT_TRUE(ParseMetricsAddresses("")->empty());
  EXPECT_FALSE(ParseMetricsAddresses("127.0.0.1").ok());
  EXPECT_FALSE(ParseMetricsAddresses("127.0.0.1:0").ok());
  EXPECT_FALSE(ParseMetricsAddresses("127.0.0.1:9100,").ok());
}

}  // namespace
}  // namespace tally::loadgen
