#include "services/credential/credential_metrics.h"

#include <string>

namespace tally::credential {
namespace {

const char* OutcomeName(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kAccepted: return "accepted";
    case CheckOutcome::kWrongPassword: return "wrong_password";
    case CheckOutcome::kUnknownUser: return "unknown_user";
    case CheckOutcome::kNoPassword: return "no_password";
    case CheckOutcome::kThrottled: return "throttled";
    case CheckOutcome::kError: return "error";
  }
  return "error";
}

// 1 ms to 10 s: small test parameters on one end, a saturated machine on the other.
const prometheus::Histogram::BucketBoundaries& HashBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

}  // namespace

CredentialMetrics::CredentialMetrics(prometheus::Registry& registry)
    : checks_(prometheus::BuildCounter()
                  .Name("tally_password_checks_total")
                  .Help("VerifyPassword calls by outcome.")
                  .Register(registry)),
      hash_seconds_(prometheus::BuildHistogram()
                        .Name("tally_password_hash_seconds")
                        .Help("Time of one Argon2id run, by operation (hash or verify).")
                        .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("tally_password_hashes_in_flight")
                     .Help("Argon2id runs in progress.")
                     .Register(registry)
                     .Add({})) {
  // Every outcome is exported from the start, so rates work before the first occurrence.
  for (CheckOutcome o : {CheckOutcome::kAccepted, CheckOutcome::kWrongPassword,
                         CheckOutcome::kUnknownUser, CheckOutcome::kNoPassword,
                         CheckOutcome::kThrottled, CheckOutcome::kError}) {
    checks_.Add({{"outcome", OutcomeName(o)}});
  }
}

void CredentialMetrics::RecordCheck(CheckOutcome outcome) {
  checks_.Add({{"outcome", OutcomeName(outcome)}}).Increment();
}

void CredentialMetrics::RecordHash(std::string_view operation, double seconds) {
  hash_seconds_.Add({{"operation", std::string(operation)}}, HashBuckets()).Observe(seconds);
}

}  // namespace tally::credential
