#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace tally::otp {

// The OTP service's own Prometheus families (README "OTP service" lists them).
class OtpMetrics {
 public:
  explicit OtpMetrics(prometheus::Registry& registry);

  // result: issued, no_recipient (a send to nobody), or the refusal (RefusalResult): cooldown,
  // destination_cap, directory_cap, unproven_user_cap, unproven_client_ip_cap,
  // unproven_directory_cap.
  void CodeIssued(absl::string_view channel, absl::string_view result);
  // A code or notice refused by a send budget (BudgetName): what the SMS-pumping alert watches.
  void SendRefused(absl::string_view budget, absl::string_view channel);
  // kind: contact_changed, recovery_code_used, device_remembered; result: queued or refused.
  void Notice(absl::string_view channel, absl::string_view kind, absl::string_view result);
  // result: accepted, wrong_code, expired, too_many_attempts.
  void CodeVerified(absl::string_view channel, absl::string_view result);
  // outcome: delivered, retry, permanent, dead, skipped.
  void Delivery(absl::string_view provider, absl::string_view outcome);
  // From enqueue to the provider's acceptance.
  void DeliveryLatency(absl::string_view provider, double seconds);
  // reason: permanent, retries_exhausted, expired, malformed, undecryptable, reclaimed_too_often.
  void DeadLetter(absl::string_view reason);
  // Summed over every shard of the delivery queue.
  void SetQueue(int64_t backlog, int64_t pending, int64_t dead);

 private:
  prometheus::Family<prometheus::Counter>& issued_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& notices_;
  prometheus::Family<prometheus::Counter>& verified_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Gauge& backlog_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& dead_length_;
};

}  // namespace tally::otp
