#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace tally::orchestrator {

// The orchestrator's own Prometheus families for logins.
class LoginMetrics {
 public:
  explicit LoginMetrics(prometheus::Registry& registry);

  // A login that finished; methods: the completed methods joined by '+', e.g.
  // "password+sms_otp". outcome: succeeded.
  void LoginFinished(absl::string_view outcome, absl::string_view methods);
  // A step: step is the RPC (start_login, submit_password, ...); outcome: ok, accepted,
  // rejected, locked, or the status code name of an error.
  void Step(absl::string_view step, absl::string_view outcome, double seconds);
  // A subject got locked by a failure.
  void Locked();
  // A permanent lock (NIST SP 800-63B's cap) began ("locked") or an admin ended it ("unlocked").
  void PermanentLock(absl::string_view event);

 private:
  prometheus::Family<prometheus::Counter>& logins_;
  prometheus::Family<prometheus::Counter>& steps_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Counter& locks_;
  prometheus::Family<prometheus::Counter>& permanent_locks_;
};

}  // namespace tally::orchestrator
