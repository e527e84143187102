// tally-loadgen against the whole cluster (tests/cluster) for a few logins of every scenario:
// OTP codes travel the real way (the senders' http provider POSTs them to the load
// generator's endpoint), passkeys come from the software authenticator. Checks the JSON: every
// scenario completed its logins with no errors. No timing is asserted.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cluster/cluster.h"

namespace tally {
namespace {

constexpr char kGatewayToken[] = "loadgen-smoke-gateway-token";
constexpr int kLogins = 4;

TEST(LoadgenSmokeTest, EveryScenarioCompletesLoginsWithoutErrors) {
  const int gateway_port = testing::FreePort();
  testing::ClusterOptions options;
  options.orchestrators = 1;
  options.metrics = true;
  options.delivery = "http";
  options.http_url = absl::StrCat("http://127.0.0.1:", gateway_port, "/messages");
  options.flags["otp-sender"] = {absl::StrCat("--sms_http_token=", kGatewayToken)};
  testing::Cluster cluster(options);
  ASSERT_TRUE(cluster.ready()) << "the cluster did not start";

  std::vector<std::string> pids, metrics;
  for (const std::string& name : cluster.service_names()) {
    pids.push_back(absl::StrCat(name, ":", cluster.service(name).process().pid()));
    metrics.push_back(absl::StrCat("127.0.0.1:", cluster.service(name).metrics_port()));
  }
  const std::string output = absl::StrCat(cluster.temp_path(), "/loadgen.json");
  testing::CommandResult run = testing::RunCommand(
      {absl::StrCat(testing::BinDir(), "/tally-loadgen"),
       absl::StrCat("--orchestrator_addr=", cluster.service("orchestrator-a").address()),
       absl::StrCat("--policy_addr=", cluster.service("policy").address()),
       absl::StrCat("--credential_addr=", cluster.service("credential").address()),
       absl::StrCat("--passkey_addr=", cluster.service("passkey").address()),
       absl::StrCat("--otp_addr=", cluster.service("otp").address()),
       absl::StrCat("--platform_key=", cluster.platform_key()),
       absl::StrCat("--origin=", testing::kClusterOrigin),
       absl::StrCat("--otp_listen=127.0.0.1:", gateway_port),
       absl::StrCat("--otp_token=", kGatewayToken),
       absl::StrCat("--service_pids=", absl::StrJoin(pids, ",")),
       absl::StrCat("--metrics_addrs=", absl::StrJoin(metrics, ",")),
       absl::StrCat("--redis_url=", testing::RequiredEnv("TALLY_TEST_REDIS_URL")),
       "--scenarios=all", absl::StrCat("--count=", kLogins), "--warmup=0s", "--concurrency=2",
       "--users=3", "--probes=5", "--floors=false", absl::StrCat("--output=", output)},
      {}, absl::Seconds(240));
  ASSERT_EQ(run.exit_code, 0) << run.output;

  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json result = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(result.is_object()) << text.str();

  std::vector<std::string> seen;
  for (const nlohmann::json& s : result["scenarios"]) {
    const std::string name = s.value("scenario", "");
    seen.push_back(name);
    EXPECT_EQ(s.value("logins", 0), kLogins) << name << ": " << s.dump(2);
    EXPECT_EQ(s.value("failed", -1), 0) << name << ": " << s["errors"].dump();
    EXPECT_TRUE(s["errors"].empty()) << name << ": " << s["errors"].dump();
    EXPECT_EQ(s["latency"].value("count", 0), kLogins) << name;
    // Every watched service shows up with its memory.
    for (const std::string& service : cluster.service_names()) {
      EXPECT_TRUE(s["services"].contains(service)) << name << " lacks " << service;
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"password", "password+sms", "password+email",
                                            "passkey", "mixed"}));
  // Every single-RPC probe measured a bare echo and a Redis PING between its calls (the hop
  // target divides by both).
  ASSERT_FALSE(result["probes"]["hops"].empty());
  for (const nlohmann::json& hop : result["probes"]["hops"]) {
    EXPECT_GT(hop.value("echo_p50_us", 0.0), 0) << hop.dump();
    EXPECT_GT(hop.value("redis_p50_us", 0.0), 0) << hop.dump();
  }
  // The OTP logins got their codes through the endpoint, and only expected ones.
  EXPECT_GT(result["otp_endpoint"].value("codes_delivered", 0), 0);
  EXPECT_EQ(result["otp_endpoint"].value("rejected", -1), 0);
  // The steps each scenario must have taken.
  for (const nlohmann::json& s : result["scenarios"]) {
    const std::string name = s.value("scenario", "");
    std::vector<std::string> wanted = {"StartLogin"};
    if (name == "passkey") {
      wanted.insert(wanted.end(), {"StartPasskey", "FinishPasskey"});
    } else {
      wanted.push_back("SubmitPassword");
    }
    if (name == "password+sms" || name == "password+email") {
      wanted.insert(wanted.end(), {"SendOtp", "CodeDelivery", "VerifyOtp"});
    }
    for (const std::string& step : wanted) {
      EXPECT_TRUE(s["steps"].contains(step)) << name << " lacks step " << step;
    }
    // The gRPC calls the cluster served per login, counted at the servers, by method: the
    // login page's steps and the orchestrator's peer calls. Not exact here (a few logins,
    // snapshots taken while workers run, the test cluster's short-lived caches, `mixed`
    // spreading its logins over four kinds), so only their presence is checked.
    ASSERT_TRUE(s.contains("grpc_calls_per_login")) << name;
    const nlohmann::json& by_method = s["grpc_calls_per_login_by_method"];
    std::vector<std::string> served = {"orchestrator.v1.LoginService/StartLogin",
                                       "credential.v1.CredentialService/FindUser"};
    if (name == "passkey") {
      served.insert(served.end(), {"orchestrator.v1.LoginService/StartPasskey",
                                   "orchestrator.v1.LoginService/FinishPasskey",
                                   "passkey.v1.PasskeyService/StartAuthentication",
                                   "passkey.v1.PasskeyService/FinishAuthentication",
                                   "credential.v1.CredentialService/GetUser"});
    } else {
      served.insert(served.end(), {"orchestrator.v1.LoginService/SubmitPassword",
                                   "credential.v1.CredentialService/VerifyPassword"});
    }
    if (name == "password+sms" || name == "password+email") {
      served.insert(served.end(), {"orchestrator.v1.LoginService/SendOtp",
                                   "orchestrator.v1.LoginService/VerifyOtp",
                                   "otp.v1.OtpService/SendCode", "otp.v1.OtpService/VerifyCode"});
    }
    for (const std::string& method : served) {
      const std::string key = absl::StrCat("/tally.", method);
      EXPECT_GT(by_method.value(key, 0.0), 0) << name << " lacks " << key << ": "
                                              << by_method.dump(2);
    }
    EXPECT_GT(s["grpc_calls_per_login"].get<double>(), 0) << name;
  }
}

}  // namespace
}  // namespace tally
