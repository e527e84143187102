#include "services/otp/otp_metrics.h"

namespace tally::otp {

OtpMetrics::OtpMetrics(prometheus::Registry& registry)
    : issued_(prometheus::BuildCounter()
                  .Name("tally_otp_codes_issued_total")
                  .Help("SendCode calls by channel and result (issued or the limit that refused)")
                  .Register(registry)),
      refused_(prometheus::BuildCounter()
                   .Name("tally_otp_sends_refused_total")
                   .Help("Codes and notices refused by a send budget, by budget and channel")
                   .Register(registry)),
      notices_(prometheus::BuildCounter()
                   .Name("tally_otp_notices_total")
                   .Help("SendNotice calls by channel, kind and result (queued or refused)")
                   .Register(registry)),
      verified_(prometheus::BuildCounter()
                    .Name("tally_otp_codes_verified_total")
                    .Help("VerifyCode calls by channel and result")
                    .Register(registry)),
      deliveries_(prometheus::BuildCounter()
                      .Name("tally_otp_deliveries_total")
                      .Help("Delivery attempts and their end by provider and outcome")
                      .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("tally_otp_delivery_latency_seconds")
                   .Help("From SendCode to the provider accepting the message")
                   .Register(registry)),
      dead_letters_(prometheus::BuildCounter()
                        .Name("tally_otp_dead_letters_total")
                        .Help("Jobs moved to the dead-letter stream, by reason")
                        .Register(registry)),
      backlog_(prometheus::BuildGauge()
                   .Name("tally_otp_stream_backlog")
                   .Help("Delivery jobs in the streams (every shard) not yet done (read or not)")
                   .Register(registry)
                   .Add({})),
      pending_(prometheus::BuildGauge()
                   .Name("tally_otp_stream_pending")
                   .Help("Delivery jobs (every shard) read by a sender and not yet acknowledged")
                   .Register(registry)
                   .Add({})),
      dead_length_(prometheus::BuildGauge()
                       .Name("tally_otp_dead_letter_stream_length")
                       .Help("Entries in the dead-letter streams (every shard)")
                       .Register(registry)
                       .Add({})) {}

void OtpMetrics::CodeIssued(absl::string_view channel, absl::string_view result) {
  issued_.Add({{"channel", std::string(channel)}, {"result", std::string(result)}}).Increment();
}

void OtpMetrics::SendRefused(absl::string_view budget, absl::string_view channel) {
  refused_.Add({{"budget", std::string(budget)}, {"channel", std::string(channel)}}).Increment();
}

void OtpMetrics::Notice(absl::string_view channel, absl::string_view kind,
                        absl::string_view result) {
  notices_
      .Add({{"channel", std::string(channel)},
            {"kind", std::string(kind)},
            {"result", std::string(result)}})
      .Increment();
}

void OtpMetrics::CodeVerified(absl::string_view channel, absl::string_view result) {
  verified_.Add({{"channel", std::string(channel)}, {"result", std::string(result)}}).Increment();
}

void OtpMetrics::Delivery(absl::string_view provider, absl::string_view outcome) {
  deliveries_.Add({{"provider", std::string(provider)}, {"outcome", std::string(outcome)}})
      .Increment();
}

void OtpMetrics::DeliveryLatency(absl::string_view provider, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  latency_.Add({{"provider", std::string(provider)}}, kBuckets).Observe(seconds);
}

void OtpMetrics::DeadLetter(absl::string_view reason) {
  dead_letters_.Add({{"reason", std::string(reason)}}).Increment();
}

void OtpMetrics::SetQueue(int64_t backlog, int64_t pending, int64_t dead) {
  backlog_.Set(static_cast<double>(backlog));
  pending_.Set(static_cast<double>(pending));
  dead_length_.Set(static_cast<double>(dead));
}

}  // namespace tally::otp
