// Brute force from many threads at once against one user (issue 9, "Hostile input"; see ZITADEL
// advisory GHSA-7h8m-vrxx-vr4m, where parallel requests beat the failure counter). 32 threads
// start at one barrier and submit wrong passwords (or wrong codes) for the same user as fast as
// they can, through both orchestrator replicas. The number of checks that reach the verifier
// (the credential service's tally_password_checks_total, the OTP service's
// tally_otp_codes_verified_total) must not exceed the lockout threshold (5), every other attempt
// must be answered LOGIN_STATUS_LOCKED without a check, and once the lock has run out the right
// password (code) still works.
//
// Each attempt uses a login of its own, so an answer's last_step tells whether that attempt was
// checked (REJECTED) or refused before any check (LOCKED, no step). The lock is made long
// (kLockSeconds) so that the whole burst, a few hundred milliseconds of RPCs, runs inside the
// first lock; the number of locks taken (tally_orchestrator_lockouts_total) is checked too.

#include <atomic>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace opb = ::tally::orchestrator::v1;
namespace otppb = ::tally::otp::v1;
using testing::Cluster;
using testing::ClusterOptions;
using testing::NewContext;

constexpr const char* kPassword = testing::kClusterPassword;
constexpr int kThreads = 32;
constexpr int kAttemptsPerThread = 2;
constexpr int kThreshold = 5;  // the cluster's --lockout_threshold
// Long enough that the burst never outlives the first lock, short enough to wait for.
constexpr int kLockSeconds = 20;

// What the attackers saw.
struct Tally {
  absl::Mutex mu;
  int checked = 0;  // last_step REJECTED: the factor was checked (and was wrong)
  int locked = 0;   // LOCKED without a step: refused before any check
  int accepted = 0;
  std::vector<std::string> other;  // anything else: errors, unexpected states

  void Count(const grpc::Status& s, const opb::LoginState& state) {
    absl::MutexLock lock(&mu);
    if (!s.ok()) {
      other.push_back(absl::StrCat("RPC error ", s.error_code(), ": ", s.error_message()));
    } else if (state.has_last_step() &&
               state.last_step().outcome() == opb::STEP_OUTCOME_REJECTED) {
      ++checked;
    } else if (state.has_last_step() &&
               state.last_step().outcome() == opb::STEP_OUTCOME_ACCEPTED) {
      ++accepted;
    } else if (state.status() == opb::LOGIN_STATUS_LOCKED && !state.has_last_step()) {
      ++locked;
    } else {
      other.push_back(state.ShortDebugString());
    }
  }
};

class BruteForceTest : public testing::ClusterTest<BruteForceTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.metrics = true;
    options.flags["orchestrator"] = {absl::StrCat("--lockout_duration=", kLockSeconds, "s"),
                                     absl::StrCat("--lockout_max_duration=", kLockSeconds, "s")};
    // Room in the hash queue for every reserved check at once. The default queue is one wave
    // (a slot per core), so on a small machine some of the threshold's checks would be refused
    // RESOURCE_EXHAUSTED, their reservations (rightly) returned and taken by later attempts:
    // still never more than kThreshold hashes, but the exact tallies below would depend on the
    // machine's core count.
    options.flags["credential"] = {"--hash_queue_size=16"};
    return options;
  }

 protected:
  double Metric(const std::string& service, const std::string& family,
                const std::vector<std::string>& labels = {}) {
    absl::StatusOr<std::string> text =
        testing::HttpGet(cluster().service(service).metrics_port(), "/metrics");
    EXPECT_TRUE(text.ok()) << service << ": " << text.status();
    return testing::MetricSum(text.value_or(""), family, labels);
  }
  // Delivery jobs the OTP sender finished: sent, or skipped because the code was already dead.
  double SenderHandled() {
    return Metric("otp-sender-a", "tally_otp_deliveries_total", {"outcome=\"delivered\""}) +
           Metric("otp-sender-a", "tally_otp_deliveries_total", {"outcome=\"skipped\""});
  }
  double Lockouts() {
    return Metric("orchestrator-a", "tally_orchestrator_lockouts_total") +
           Metric("orchestrator-b", "tally_orchestrator_lockouts_total");
  }

  // The login calls (tests/cluster/logins.h) on orchestrator `replica`.
  grpc::Status Start(const std::string& dir, const std::string& username, int replica,
                     opb::LoginState* state) {
    return testing::StartLogin(cluster().logins(replica), dir, username, state);
  }
  grpc::Status Password(const std::string& login, const std::string& password, int replica,
                        opb::LoginState* state) {
    return testing::SubmitPassword(cluster().logins(replica), login, password, state);
  }
  grpc::Status Send(const std::string& login, int replica, opb::LoginState* state) {
    return testing::SendOtp(cluster().logins(replica), login, otppb::CHANNEL_SMS, state);
  }
  grpc::Status Verify(const std::string& login, const std::string& code, int replica,
                      opb::LoginState* state) {
    return testing::VerifyOtp(cluster().logins(replica), login, code, state);
  }

  // Waits (up to twice the lock) until a new login of `username` is no longer LOCKED.
  bool WaitUnlocked(const std::string& dir, const std::string& username) {
    return testing::WaitFor(
        [&] {
          opb::LoginState state;
          return Start(dir, username, 0, &state).ok() &&
                 state.status() == opb::LOGIN_STATUS_IN_PROGRESS;
        },
        absl::Seconds(2 * kLockSeconds + 10));
  }

  // Every SMS code in the outbox to `phone` from line `mark` on.
  std::vector<std::string> CodesTo(size_t mark, const std::string& phone) {
    static const std::regex kCode("code is:? ([0-9]{6})\\b");
    std::ifstream in(absl::StrCat(cluster().temp_path(), "/outbox.jsonl"));
    std::vector<std::string> codes;
    size_t index = 0;
    for (std::string line; std::getline(in, line); ++index) {
      if (index < mark) continue;
      nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
      if (m.is_discarded() || m.value("channel", "") != "sms" ||
          m.value("destination", "") != phone) {
        continue;
      }
      std::smatch match;
      const std::string text = m.value("text", "");
      if (std::regex_search(text, match, kCode)) codes.push_back(match[1]);
    }
    return codes;
  }

  // 32 threads, each making kAttemptsPerThread attempts via `attempt(thread, i)`, all released
  // at once.
  void Burst(const std::function<void(int, int)>& attempt) {
    absl::Barrier* start = new absl::Barrier(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (start->Block()) delete start;
        for (int i = 0; i < kAttemptsPerThread; ++i) attempt(t, i);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  void ExpectOnlyThresholdChecked(Tally& tally, double checks_before, double checks_after,
                                  double locks_before, double locks_after) {
    absl::MutexLock lock(&tally.mu);
    EXPECT_TRUE(tally.other.empty()) << tally.other.size() << " unexpected answers, first: "
                                     << (tally.other.empty() ? "" : tally.other.front());
    EXPECT_EQ(tally.accepted, 0);
    EXPECT_EQ(tally.checked + tally.locked, kThreads * kAttemptsPerThread);
    // The heart of it: parallel requests never get more checks than the limit...
    EXPECT_LE(checks_after - checks_before, kThreshold);
    // ...every checked answer was a real check, and every other attempt was LOCKED unchecked.
    EXPECT_EQ(checks_after - checks_before, tally.checked);
    // All kThreshold reservations fail, so the user is locked after exactly kThreshold checks.
    EXPECT_EQ(tally.checked, kThreshold);
    EXPECT_EQ(tally.locked, kThreads * kAttemptsPerThread - kThreshold);
    EXPECT_EQ(locks_after - locks_before, 1) << "the burst outlived the first lock?";
  }

  void RightCodeWorks(const std::string& dir, const Cluster::User& victim);

};

TEST_F(BruteForceTest, ParallelWrongPasswordsNeverExceedTheLimit) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User victim = cluster().CreateUser(dir, "victim");
  const double checks_before = Metric("credential", "tally_password_checks_total");
  const double locks_before = Lockouts();

  Tally tally;
  Burst([&](int thread, int i) {
    const int replica = (thread + i) % 2;
    opb::LoginState state;
    grpc::Status s = Start(dir, victim.username, replica, &state);
    if (!s.ok()) return tally.Count(s, state);
    s = Password(state.login_id(), absl::StrCat("wrong password ", thread, "-", i), replica,
                 &state);
    tally.Count(s, state);
  });
  ExpectOnlyThresholdChecked(tally, checks_before,
                             Metric("credential", "tally_password_checks_total"), locks_before,
                             Lockouts());

  // While locked, even the right password is refused without a check.
  const double checks_locked = Metric("credential", "tally_password_checks_total");
  opb::LoginState state;
  ASSERT_TRUE(Start(dir, victim.username, 0, &state).ok());
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_LOCKED);
  ASSERT_TRUE(Password(state.login_id(), kPassword, 1, &state).ok());
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_LOCKED);
  EXPECT_FALSE(state.has_last_step());
  EXPECT_EQ(Metric("credential", "tally_password_checks_total"), checks_locked);

  // Once the lock has run out, the right password works.
  ASSERT_TRUE(WaitUnlocked(dir, victim.username));
  ASSERT_TRUE(Start(dir, victim.username, 1, &state).ok());
  ASSERT_TRUE(Password(state.login_id(), kPassword, 0, &state).ok());
  EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED) << state.ShortDebugString();
  EXPECT_EQ(state.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(state.score(), 20);
}

TEST_F(BruteForceTest, ParallelGuessesOfAnUnknownUsernameNeverExceedTheLimit) {
  // Unknown usernames are counted and locked like users (checked against the dummy hash), so
  // probing them is throttled the same way.
  const std::string dir = cluster().CreateDirectory();
  const std::string ghost = absl::StrCat("ghost-", testing::UniqueSuffix());
  const double checks_before = Metric("credential", "tally_password_checks_total");
  const double locks_before = Lockouts();
  Tally tally;
  Burst([&](int thread, int i) {
    const int replica = (thread + i) % 2;
    opb::LoginState state;
    grpc::Status s = Start(dir, ghost, replica, &state);
    if (!s.ok()) return tally.Count(s, state);
    s = Password(state.login_id(), absl::StrCat("guess ", thread, "-", i), replica, &state);
    tally.Count(s, state);
  });
  ExpectOnlyThresholdChecked(tally, checks_before,
                             Metric("credential", "tally_password_checks_total"), locks_before,
                             Lockouts());
}

// An attacker who gives each SubmitPassword a deadline shorter than the password check must not
// get checks that are never counted: the orchestrator used to bound the verifier call by the
// caller's deadline, saw DEADLINE_EXCEEDED, gave the reservation back, and the credential
// service had checked the password all the same. Now every check that reaches the verifier is
// awaited and recorded, so the user is locked after exactly kThreshold checks, whatever the
// callers' deadlines.
TEST_F(BruteForceTest, ShortDeadlinesDoNotBuyUncountedChecks) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User victim = cluster().CreateUser(dir, "hasty");
  const double checks_before = Metric("credential", "tally_password_checks_total");
  const double locks_before = Lockouts();

  // Deadlines from 2 ms to ~200 ms: some end before the check starts, some during it.
  std::atomic<int> answered{0};
  Burst([&](int thread, int i) {
    const int replica = (thread + i) % 2;
    opb::LoginState state;
    if (!Start(dir, victim.username, replica, &state).ok()) return;
    opb::SubmitPasswordRequest r;
    r.set_login_id(state.login_id());
    r.set_password(absl::StrCat("hasty guess ", thread, "-", i));
    opb::SubmitPasswordResponse out;
    const absl::Duration deadline = absl::Milliseconds(2 + 3 * (thread * kAttemptsPerThread + i));
    if (cluster()
            .logins(replica)
            .SubmitPassword(NewContext("", "", deadline).get(), r, &out)
            .ok()) {
      ++answered;
    }
  });
  // Then patient wrong passwords until the user is locked (each waits for its answer; a
  // refusal because every remaining check is still in flight is retried).
  bool locked = testing::WaitFor(
      [&] {
        if (Lockouts() - locks_before >= 1) return true;
        opb::LoginState state;
        if (Start(dir, victim.username, 0, &state).ok()) {
          (void)Password(state.login_id(), "patient wrong password", 1, &state);
        }
        return false;
      },
      absl::Seconds(60));
  ASSERT_TRUE(locked) << "never locked: checks so far "
                      << Metric("credential", "tally_password_checks_total") - checks_before;
  EXPECT_EQ(Lockouts() - locks_before, 1);
  EXPECT_EQ(Metric("credential", "tally_password_checks_total") - checks_before, kThreshold)
      << answered.load() << " of the short-deadline attempts were answered";
}

TEST_F(BruteForceTest, ParallelWrongCodesNeverExceedTheLimit) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User victim = cluster().CreateUser(dir, "codes");

  // One login per attempt, each with a code sent to the victim's phone, all before the burst
  // (a locked user gets no more codes).
  const size_t mark = cluster().OutboxMark();
  const double handled_before = SenderHandled();
  const int logins = kThreads * kAttemptsPerThread;
  std::vector<std::string> login_ids;
  for (int i = 0; i < logins; ++i) {
    opb::LoginState state;
    ASSERT_TRUE(Start(dir, victim.username, i % 2, &state).ok());
    grpc::Status s = Send(state.login_id(), i % 2, &state);
    ASSERT_TRUE(s.ok()) << s.error_message();
    login_ids.push_back(state.login_id());
  }
  // Each send invalidates the user's previous SMS code, whichever login it was for, and the
  // sender skips a job whose code is dead by the time it gets there: under load some of the
  // earlier codes are never sent. Wait until the sender has handled every job, then read the
  // codes that went out (the last is always among them).
  ASSERT_TRUE(testing::WaitFor([&] { return SenderHandled() - handled_before >= logins; },
                               absl::Seconds(60)))
      << SenderHandled() - handled_before << " of " << logins << " delivery jobs handled";
  const std::vector<std::string> sent = CodesTo(mark, victim.phone);
  ASSERT_FALSE(sent.empty());
  // A code that is certainly wrong for every login.
  const std::set<std::string> used(sent.begin(), sent.end());
  std::string wrong;
  for (int n = 0; n < 1000000 && wrong.empty(); ++n) {
    std::string candidate = absl::StrCat(n);
    candidate.insert(0, 6 - candidate.size(), '0');
    if (!used.contains(candidate)) wrong = candidate;
  }

  const double checks_before = Metric("otp", "tally_otp_codes_verified_total");
  const double locks_before = Lockouts();
  Tally tally;
  Burst([&](int thread, int i) {
    const int replica = (thread + i) % 2;
    opb::LoginState state;
    grpc::Status s = Verify(login_ids[thread * kAttemptsPerThread + i], wrong, replica, &state);
    tally.Count(s, state);
  });
  ExpectOnlyThresholdChecked(tally, checks_before,
                             Metric("otp", "tally_otp_codes_verified_total"), locks_before,
                             Lockouts());

  // Once the lock has run out, the right code works.
  ASSERT_TRUE(WaitUnlocked(dir, victim.username));
  RightCodeWorks(dir, victim);
}

// Codes too: a deadline that ends while the OTP service checks the code buys no uncounted check.
TEST_F(BruteForceTest, ShortDeadlinesDoNotBuyUncountedCodeChecks) {
  const std::string dir = cluster().CreateDirectory();
  const Cluster::User victim = cluster().CreateUser(dir, "hasty-codes");
  std::vector<std::string> login_ids;
  for (int i = 0; i < kThreads * kAttemptsPerThread; ++i) {
    opb::LoginState state;
    ASSERT_TRUE(Start(dir, victim.username, i % 2, &state).ok());
    grpc::Status s = Send(state.login_id(), i % 2, &state);
    ASSERT_TRUE(s.ok()) << s.error_message();
    login_ids.push_back(state.login_id());
  }
  const double checks_before = Metric("otp", "tally_otp_codes_verified_total");
  const double locks_before = Lockouts();
  // A code that is not digits is a malformed request, refused before any reservation or check
  // (it used to come back as "otp service unavailable").
  opb::LoginState state;
  grpc::Status malformed = Verify(login_ids.back(), "12345x", 0, &state);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << malformed.error_message();
  // Seven digits: well-formed, and never one of the six-digit codes sent.
  Burst([&](int thread, int i) {
    const int k = thread * kAttemptsPerThread + i;
    opb::VerifyOtpRequest r;
    r.set_login_id(login_ids[k]);
    r.set_code("1234567");
    opb::VerifyOtpResponse out;
    (void)cluster()
        .logins(k % 2)
        .VerifyOtp(NewContext("", "", absl::Milliseconds(1 + k)).get(), r, &out);
  });
  bool locked = testing::WaitFor(
      [&] {
        if (Lockouts() - locks_before >= 1) return true;
        opb::LoginState state;
        if (Start(dir, victim.username, 0, &state).ok() &&
            Send(state.login_id(), 1, &state).ok()) {
          (void)Verify(state.login_id(), "1234567", 0, &state);
        }
        return false;
      },
      absl::Seconds(60));
  ASSERT_TRUE(locked) << "never locked: checks so far "
                      << Metric("otp", "tally_otp_codes_verified_total") - checks_before;
  EXPECT_EQ(Lockouts() - locks_before, 1);
  EXPECT_EQ(Metric("otp", "tally_otp_codes_verified_total") - checks_before, kThreshold);
  ASSERT_TRUE(WaitUnlocked(dir, victim.username));
  RightCodeWorks(dir, victim);
}

// A fresh login, a code by SMS, the right code: accepted.
void BruteForceTest::RightCodeWorks(const std::string& dir, const Cluster::User& victim) {
  opb::LoginState state;
  ASSERT_TRUE(Start(dir, victim.username, 0, &state).ok());
  const size_t fresh = cluster().OutboxMark();
  ASSERT_TRUE(Send(state.login_id(), 1, &state).ok());
  const std::string code = cluster().WaitForCode(fresh, "sms", victim.phone);
  ASSERT_FALSE(code.empty());
  ASSERT_TRUE(Verify(state.login_id(), code, 0, &state).ok());
  EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED) << state.ShortDebugString();
  EXPECT_EQ(state.score(), 10);
}

}  // namespace
}  // namespace tally
