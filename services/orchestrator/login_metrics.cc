#include "services/orchestrator/login_metrics.h"

namespace tally::orchestrator {

LoginMetrics::LoginMetrics(prometheus::Registry& registry)
    : logins_(prometheus::BuildCounter()
                  .Name("tally_orchestrator_logins_total")
                  .Help("Finished logins by outcome and the methods used")
                  .Register(registry)),
      steps_(prometheus::BuildCounter()
                 .Name("tally_orchestrator_login_steps_total")
                 .Help("Login steps by RPC and outcome")
                 .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("tally_orchestrator_login_step_seconds")
                   .Help("Latency of login steps by RPC")
                   .Register(registry)),
      locks_(prometheus::BuildCounter()
                 .Name("tally_orchestrator_lockouts_total")
                 .Help("Users (or unknown usernames) locked after consecutive failures")
                 .Register(registry)
                 .Add({})),
      permanent_locks_(prometheus::BuildCounter()
                           .Name("tally_orchestrator_permanent_locks_total")
                           .Help("Permanent locks after 100 consecutive failures (event=locked) "
                                 "and their ends by UnlockUser (event=unlocked)")
                           .Register(registry)) {}

void LoginMetrics::LoginFinished(absl::string_view outcome, absl::string_view methods) {
  logins_.Add({{"outcome", std::string(outcome)}, {"methods", std::string(methods)}}).Increment();
}

void LoginMetrics::Step(absl::string_view step, absl::string_view outcome, double seconds) {
  steps_.Add({{"step", std::string(step)}, {"outcome", std::string(outcome)}}).Increment();
  latency_
      .Add({{"step", std::string(step)}},
           prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                   2.5, 5})
      .Observe(seconds);
}

void LoginMetrics::Locked() { locks_.Increment(); }

void LoginMetrics::PermanentLock(absl::string_view event) {
  permanent_locks_.Add({{"event", std::string(event)}}).Increment();
}

}  // namespace tally::orchestrator
