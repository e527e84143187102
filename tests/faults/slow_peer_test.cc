// Fault 3 of issue 9: a slow peer. The credential service is paused (SIGSTOP): it accepts
// connections but never answers. The orchestrator must answer password steps itself, within its
// --peer_timeout, with UNAVAILABLE or DEADLINE_EXCEEDED (not leave the caller hanging until the
// caller's own, much longer, deadline); and passkey logins, which check nothing the credential
// service owns, keep succeeding meanwhile, many in parallel, while stuck password steps pile up
// (no thread pool exhausted by them). After SIGCONT everything works again.
//
// A passkey login still needs the user's roles for its token: while the credential service does
// not answer, the orchestrator uses the user as it last saw it (--user_max_stale), so the users
// log in on both replicas once before the pause, as users who were active recently would have.

#include <signal.h>

#include <atomic>
#include <functional>
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

namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::kClusterPassword;
using webauthn::testing::SoftAuthenticator;

constexpr int kPasswordThreads = 8;
constexpr int kPasskeyThreads = 4;
constexpr int kPasskeyLoginsPerThread = 4;
// Far longer than --peer_timeout: an answer before it is the orchestrator's own.
constexpr absl::Duration kClientDeadline = absl::Seconds(30);

// SIGCONT whatever happens, so the cluster can be stopped.
class Paused {
 public:
  explicit Paused(testing::Subprocess& process) : process_(process) { process_.Signal(SIGSTOP); }
  ~Paused() { Resume(); }
  void Resume() {
    if (!resumed_) process_.Signal(SIGCONT);
    resumed_ = true;
  }

 private:
  testing::Subprocess& process_;
  bool resumed_ = false;
};

// Whether `s` is the orchestrator saying its credential peer did not answer (as opposed to the
// client's own deadline running out, which gRPC reports as "Deadline Exceeded").
bool PeerTimedOut(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::StrContains(s.error_message(), "credential");
  }
  return s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
         s.error_message() != "Deadline Exceeded";
}

TEST(SlowPeerTest, PasswordStepsTimeOutWhilePasskeyLoginsKeepSucceeding) {
  ClusterOptions options;
  // The production default (the cluster's own is longer).
  options.flags["orchestrator"] = {"--peer_timeout=2s"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.ready());
  const std::string dir = cluster.CreateDirectory(polpb::TIER_FREEMIUM);

  // Set-up, before the pause. A password hash on a busy machine can outlast --peer_timeout:
  // the orchestrator then answers UNAVAILABLE, which a caller retries, as set-up does here.
  auto eventually = [](const std::function<absl::Status()>& step) {
    absl::Status s;
    testing::WaitFor(
        [&] {
          s = step();
          return !absl::IsUnavailable(s);
        },
        absl::Seconds(60));
    return s;
  };
  auto status = [](const grpc::Status& s) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  };
  // Passkey users, one software authenticator each (its signature counter must rise in order).
  std::vector<std::unique_ptr<SoftAuthenticator>> authenticators;
  for (int i = 0; i < kPasskeyThreads; ++i) {
    const Cluster::User user = cluster.CreateUser(dir, absl::StrCat("key", i));
    std::string token;
    absl::Status s = eventually([&]() -> absl::Status {
      absl::StatusOr<std::string> t = LoginWithPasswordAndSms(cluster, dir, user, i % 2);
      if (t.ok()) token = *t;
      return t.status();
    });
    ASSERT_TRUE(s.ok()) << s;
    authenticators.push_back(std::make_unique<SoftAuthenticator>(SoftAuthenticator::Alg::kES256));
    absl::StatusOr<passkey::v1::Passkey> registered =
        RegisterPasskey(cluster, dir, user, token, *authenticators.back());
    ASSERT_TRUE(registered.ok()) << registered.status();
  }
  for (int i = 0; i < kPasskeyThreads; ++i) {
    for (int replica : {0, 1}) {
      opb::LoginState state;
      absl::Status s = eventually([&] {
        return status(PasskeyLogin(cluster.logins(replica), dir, "", *authenticators[i], &state));
      });
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
    }
  }
  // Password logins started while credential still answers (StartLogin looks the user up).
  std::vector<std::string> password_logins;
  for (int i = 0; i < kPasswordThreads; ++i) {
    cluster.CreateUser(dir, absl::StrCat("pw", i));
    opb::LoginState state;
    absl::Status s = eventually([&] {
      return status(StartLogin(cluster.logins(i % 2), dir, absl::StrCat("pw", i), &state));
    });
    ASSERT_TRUE(s.ok()) << s;
    password_logins.push_back(state.login_id());
  }

  Paused paused(cluster.service("credential").process());

  std::atomic<bool> passkeys_done{false};
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> password_answers{0};
  std::atomic<int> passkey_successes{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kPasswordThreads; ++i) {
    threads.emplace_back([&, i] {
      // Keep stuck password steps in flight until the passkey logins are through.
      do {
        opb::LoginState state;
        grpc::Status s = SubmitPassword(cluster.logins(i % 2), password_logins[i],
                                        kClusterPassword, &state, kClientDeadline);
        if (!PeerTimedOut(s)) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(absl::StrCat("password step ", i, ": ", Describe(s)));
          return;
        }
        ++password_answers;
      } while (!passkeys_done);
    });
  }
  std::vector<std::thread> passkey_threads;
  for (int i = 0; i < kPasskeyThreads; ++i) {
    passkey_threads.emplace_back([&, i] {
      for (int n = 0; n < kPasskeyLoginsPerThread; ++n) {
        opb::LoginState state;
        // Discoverable (no username): the passkey names the user, no lookup by name.
        grpc::Status s =
            PasskeyLogin(cluster.logins((i + n) % 2), dir, "", *authenticators[i], &state);
        if (!s.ok() || state.status() != opb::LOGIN_STATUS_SUCCEEDED) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(absl::StrCat("passkey login ", i, "/", n, ": ", Describe(s),
                                          " status ", state.status()));
          continue;
        }
        ++passkey_successes;
      }
    });
  }
  for (std::thread& t : passkey_threads) t.join();
  passkeys_done = true;
  for (std::thread& t : threads) t.join();
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(passkey_successes, kPasskeyThreads * kPasskeyLoginsPerThread);
  EXPECT_GE(password_answers, kPasswordThreads);

  // Resumed: the same password steps are accepted (nothing was counted while it was paused).
  paused.Resume();
  for (int i = 0; i < kPasswordThreads; ++i) {
    opb::LoginState state;
    grpc::Status s;
    // The first calls may still meet the backlog of the calls given up on.
    testing::WaitFor(
        [&] {
          s = SubmitPassword(cluster.logins(i % 2), password_logins[i], kClusterPassword, &state);
          return s.error_code() != grpc::StatusCode::UNAVAILABLE;
        },
        absl::Seconds(60));
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED) << i;
    EXPECT_EQ(state.score(), 20) << i;
  }
  opb::LoginState state;
  absl::Status s = eventually([&] {
    return status(PasskeyLogin(cluster.logins(0), dir, "key0", *authenticators[0], &state));
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
}

}  // namespace
}  // namespace tally::faults
