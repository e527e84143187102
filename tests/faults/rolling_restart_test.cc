// Fault 6 of issue 9: a graceful rollout. Under a steady load of logins from several client
// threads, every service in turn gets SIGTERM, drains (it must exit 0 on its own) and is started
// again. The clients follow the retry policy a Tally caller is expected to follow, and the test
// asserts that nothing else is ever needed:
//
//   * Two orchestrator replicas behind the client, used round robin, each through a channel that
//     watches its health (deploy/README.md): a replica that got SIGTERM turns NOT_SERVING and
//     the channel stops sending there while the replica still serves (--drain_grace), before
//     gRPC's shutdown would cancel calls racing it. UNAVAILABLE is the only retriable answer:
//     the call did not take effect (a draining or stopped server refuses new calls; a peer that
//     cannot be reached makes the orchestrator give the step back). The client retries it as a
//     fresh call on the next replica.
//   * A WebAuthn assertion is single-use, so after UNAVAILABLE on FinishPasskey the client
//     starts the passkey ceremony again (StartPasskey) instead of resending the same assertion.
//   * Everything else is a failure of the test: DEADLINE_EXCEEDED, CANCELLED (an in-flight call
//     cut off by a drain), INTERNAL, a FAILED_PRECONDITION after a retry (a step that took
//     effect although it was reported UNAVAILABLE), or a login that does not end SUCCEEDED.
//
// The single-replica services behind the orchestrator (policy, credential, otp, passkey) have
// no second replica to fail over to: while one is down, the orchestrator must answer the steps
// that need it with UNAVAILABLE naming that service (probed explicitly while it is down), and
// the same step retried after the restart must succeed. OTP senders run as two replicas; a
// code sent while one is restarting is delivered by the other.

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/faults/fault_support.h"

namespace tally::faults {
namespace {

namespace otppb = ::tally::otp::v1;
namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::kClusterPassword;
using webauthn::testing::SoftAuthenticator;

// Long enough for any service to be stopped, started and connected again.
constexpr absl::Duration kRetryBudget = absl::Seconds(60);
constexpr int kPasswordThreads = 3;

// The load's clients and what they saw.
class Load {
 public:
  explicit Load(Cluster& cluster) {
    for (int replica : {0, 1}) {
      auto channel = cluster.WatchingChannel(testing::ReplicaName("orchestrator", replica));
      logins_.push_back(orchestrator::v1::LoginService::NewStub(channel));
      sessions_.push_back(orchestrator::v1::SessionService::NewStub(channel));
    }
  }

  // Runs `call(stub)` on the replicas in turn until it answers something else than
  // UNAVAILABLE (or the budget is spent); that answer.
  template <typename Call>
  grpc::Status Retry(const std::string& what, Call call) {
    const absl::Time give_up = absl::Now() + kRetryBudget;
    grpc::Status s;
    for (;;) {
      const int replica = next_++ % 2;
      s = call(*logins_[replica], *sessions_[replica]);
      ++calls_;
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      ++retries_;
      if (absl::Now() > give_up) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (!s.ok()) Fail(absl::StrCat(what, ": ", Describe(s)));
    return s;
  }

  void Fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failures_.size() < 50) failures_.push_back(why);
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  int calls() const { return calls_; }
  int retries() const { return retries_; }

 private:
  std::vector<std::unique_ptr<orchestrator::v1::LoginService::Stub>> logins_;
  std::vector<std::unique_ptr<orchestrator::v1::SessionService::Stub>> sessions_;
  std::atomic<int> next_{0};
  std::atomic<int> calls_{0};
  std::atomic<int> retries_{0};
  std::mutex mu_;
  std::vector<std::string> failures_;
};

using LoginStub = orchestrator::v1::LoginService::Stub;
using SessionStub = orchestrator::v1::SessionService::Stub;

// A login ends SUCCEEDED with a token that validates; false (and a failure recorded) otherwise.
bool Succeeded(Load& load, const std::string& what, const opb::LoginState& state) {
  if (state.status() != opb::LOGIN_STATUS_SUCCEEDED) {
    load.Fail(absl::StrCat(what, ": login ended ", opb::LoginStatus_Name(state.status()),
                           " score ", state.score(), " last step ",
                           opb::StepOutcome_Name(state.last_step().outcome())));
    return false;
  }
  grpc::Status s = load.Retry(absl::StrCat(what, " ValidateSession"),
                              [&](LoginStub&, SessionStub& sessions) {
                                return ValidateSession(sessions, state.session().token());
                              });
  return s.ok();
}

bool PasswordLogin(Load& load, const std::string& dir, const std::string& username) {
  opb::LoginState state;
  if (!load.Retry("StartLogin", [&](LoginStub& stub, SessionStub&) {
        return StartLogin(stub, dir, username, &state);
      }).ok()) {
    return false;
  }
  const std::string login = state.login_id();
  if (!load.Retry("SubmitPassword", [&](LoginStub& stub, SessionStub&) {
        return SubmitPassword(stub, login, kClusterPassword, &state);
      }).ok()) {
    return false;
  }
  return Succeeded(load, "password login", state);
}

bool PasswordAndEmailLogin(Load& load, Cluster& cluster, const std::string& dir,
                           const Cluster::User& user) {
  opb::LoginState state;
  if (!load.Retry("StartLogin", [&](LoginStub& stub, SessionStub&) {
        return StartLogin(stub, dir, user.username, &state);
      }).ok()) {
    return false;
  }
  const std::string login = state.login_id();
  if (!load.Retry("SubmitPassword", [&](LoginStub& stub, SessionStub&) {
        return SubmitPassword(stub, login, kClusterPassword, &state);
      }).ok()) {
    return false;
  }
  size_t mark = 0;
  if (!load.Retry("SendOtp", [&](LoginStub& stub, SessionStub&) {
        mark = cluster.OutboxMark();
        return SendOtp(stub, login, otppb::CHANNEL_EMAIL, &state);
      }).ok()) {
    return false;
  }
  const std::string code = cluster.WaitForCode(mark, "email", user.email);
  if (code.empty()) {
    load.Fail("no e-mail code delivered");
    return false;
  }
  if (!load.Retry("VerifyOtp", [&](LoginStub& stub, SessionStub&) {
        return VerifyOtp(stub, login, code, &state);
      }).ok()) {
    return false;
  }
  return Succeeded(load, "password + email login", state);
}

bool DiscoverablePasskeyLogin(Load& load, const std::string& dir,
                              SoftAuthenticator& authenticator) {
  opb::LoginState state;
  if (!load.Retry("StartLogin", [&](LoginStub& stub, SessionStub&) {
        return StartLogin(stub, dir, "", &state);
      }).ok()) {
    return false;
  }
  const std::string login = state.login_id();
  // StartPasskey + FinishPasskey as one retried unit: a fresh challenge for each try.
  if (!load.Retry("StartPasskey+FinishPasskey", [&](LoginStub& stub, SessionStub&) {
        std::string options;
        grpc::Status s = StartPasskey(stub, login, &options);
        if (!s.ok()) return s;
        return FinishPasskey(stub, login,
                             authenticator.AssertFromOptions(options, testing::kClusterOrigin),
                             &state);
      }).ok()) {
    return false;
  }
  return Succeeded(load, "passkey login", state);
}

TEST(RollingRestartTest, SigtermToEachServiceUnderLoadLosesNoCall) {
  ClusterOptions options;
  options.orchestrators = 2;
  options.otp_senders = 2;
  // Room for in-flight calls (password hashes on a busy machine) to finish while draining. An
  // orchestrator step may wait for its peers (--peer_timeout 5 s per call in the test cluster,
  // reads retried), so its drain must outlast that, as in production (20 s drain, 2 s peer
  // timeout): a step cut off by its own replica's drain is CANCELLED, which no client can retry
  // safely. A server whose calls are done exits at once; the drain is only an upper bound.
  for (const char* family : {"policy", "credential", "otp", "otp-sender", "passkey"}) {
    options.flags[family] = {"--drain_timeout=5s"};
  }
  // Room in the hash queue for every password check this load can have at once (the default
  // is one per core): a check refused RESOURCE_EXHAUSTED is retriable too, but this test is
  // about errors a rollout causes, not about the load exceeding the hash capacity.
  options.flags["credential"].push_back("--hash_queue_size=8");
  // The production grace: the load's channels see NOT_SERVING long before it ends.
  options.flags["orchestrator"] = {"--drain_grace=1s", "--drain_timeout=20s"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());

  const std::string password_dir = cluster.CreateDirectory(polpb::TIER_PROFESSIONAL);
  for (int i = 0; i < kPasswordThreads; ++i) {
    cluster.CreateUser(password_dir, absl::StrCat("pw", i));
  }
  const std::string dir = cluster.CreateDirectory(polpb::TIER_FREEMIUM);
  const Cluster::User mail = cluster.CreateUser(dir, "mail");
  const Cluster::User key = cluster.CreateUser(dir, "key");
  SoftAuthenticator authenticator(SoftAuthenticator::Alg::kES256);
  {
    absl::StatusOr<std::string> token = LoginWithPasswordAndSms(cluster, dir, key);
    ASSERT_TRUE(token.ok()) << token.status();
    absl::StatusOr<passkey::v1::Passkey> registered =
        RegisterPasskey(cluster, dir, key, *token, authenticator);
    ASSERT_TRUE(registered.ok()) << registered.status();
  }
  const Cluster::User probe = cluster.CreateUser(dir, "probe");

  Load load(cluster);
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<std::atomic<int>>> successes;
  std::vector<std::thread> threads;
  auto spawn = [&](std::function<bool()> one_login) {
    successes.push_back(std::make_unique<std::atomic<int>>(0));
    std::atomic<int>* count = successes.back().get();
    threads.emplace_back([&stop, count, one_login] {
      while (!stop) {
        if (one_login()) ++*count;
        absl::SleepFor(absl::Milliseconds(20));
      }
    });
  };
  for (int i = 0; i < kPasswordThreads; ++i) {
    spawn([&, i] { return PasswordLogin(load, password_dir, absl::StrCat("pw", i)); });
  }
  spawn([&] { return PasswordAndEmailLogin(load, cluster, dir, mail); });
  spawn([&] { return DiscoverablePasskeyLogin(load, dir, authenticator); });
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{stop, threads};

  // Every kind of login has gone through since `before`.
  auto progressed = [&](const std::vector<int>& before) {
    return testing::WaitFor(
        [&] {
          for (size_t i = 0; i < successes.size(); ++i) {
            if (*successes[i] <= before[i]) return false;
          }
          return true;
        },
        absl::Seconds(120));
  };
  auto snapshot = [&] {
    std::vector<int> now;
    for (auto& s : successes) now.push_back(*s);
    return now;
  };
  ASSERT_TRUE(progressed(snapshot())) << "the load never got going";

  // Probes of the single-replica peers while they are down: the orchestrator names them.
  opb::LoginService::Stub& a = cluster.logins(0);
  auto expect_unavailable_naming = [](const grpc::Status& s, const std::string& peer) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << peer << ": " << Describe(s);
    EXPECT_TRUE(absl::StrContains(s.error_message(), peer)) << Describe(s);
  };
  // A login that has its password and waits for a code (for the otp probe).
  opb::LoginState waiting;
  ASSERT_TRUE(StartLogin(a, dir, "probe", &waiting).ok());
  ASSERT_TRUE(SubmitPassword(a, waiting.login_id(), kClusterPassword, &waiting).ok());

  for (const std::string& name : cluster.service_names()) {
    SCOPED_TRACE(name);
    const std::vector<int> before = snapshot();
    testing::Subprocess& process = cluster.service(name).process();
    process.Signal(SIGTERM);
    absl::StatusOr<int> exit = process.Wait(absl::Seconds(30));
    ASSERT_TRUE(exit.ok()) << name << " did not exit after SIGTERM";
    EXPECT_EQ(*exit, 0) << name << " did not drain cleanly:\n" << process.Output();

    opb::LoginState state;
    const int replica = name == "orchestrator-a" ? 0 : 1;
    opb::LoginService::Stub& up = cluster.logins(replica == 0 ? 1 : 0);
    if (name == "policy") {
      expect_unavailable_naming(StartLogin(up, dir, "probe", &state), "policy");
    } else if (name == "credential") {
      expect_unavailable_naming(StartLogin(up, dir, "probe", &state), "credential");
    } else if (name == "otp") {
      expect_unavailable_naming(SendOtp(up, waiting.login_id(), otppb::CHANNEL_EMAIL, &state),
                                "otp");
    } else if (name == "passkey") {
      grpc::Status s = StartLogin(up, dir, "", &state);
      ASSERT_TRUE(s.ok()) << Describe(s);
      std::string request_options;
      expect_unavailable_naming(StartPasskey(up, state.login_id(), &request_options),
                                "passkey");
    } else if (name.rfind("orchestrator-", 0) == 0) {
      // A fresh call to the stopped replica: UNAVAILABLE, which the client takes elsewhere.
      grpc::Status s = StartLogin(cluster.logins(replica), dir, "probe", &state);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(s);
    }

    absl::Status restarted = cluster.Restart(name);
    ASSERT_TRUE(restarted.ok()) << restarted;
    EXPECT_TRUE(progressed(before)) << "the load did not get through again after " << name;
  }
  // The otp probe's step, retried now that everything is back, succeeds.
  opb::LoginState state;
  const size_t mark = cluster.OutboxMark();
  grpc::Status s = SendOtp(a, waiting.login_id(), otppb::CHANNEL_EMAIL, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  const std::string code = cluster.WaitForCode(mark, "email", probe.email);
  ASSERT_FALSE(code.empty());
  s = VerifyOtp(a, waiting.login_id(), code, &state);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);

  stop = true;
  for (std::thread& t : threads) t.join();
  for (const std::string& f : load.failures()) ADD_FAILURE() << f;
  int total = 0;
  for (auto& c : successes) total += *c;
  std::cout << "rollout: " << total << " logins, " << load.calls() << " calls, "
            << load.retries() << " retried after UNAVAILABLE\n";
  EXPECT_GT(load.retries(), 0) << "the rollout was never noticed: is the test still testing?";
}

}  // namespace
}  // namespace tally::faults
