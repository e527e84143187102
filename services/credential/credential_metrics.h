#pragma once

#include <string_view>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace tally::credential {

// How a VerifyPassword call ended, for tally_password_checks_total{outcome}.
enum class CheckOutcome {
  kAccepted,     // right password
  kWrongPassword,
  kUnknownUser,  // checked against the dummy hash
  kNoPassword,   // the user has none (passkey-only); checked against the dummy hash
  kThrottled,    // RESOURCE_EXHAUSTED: the hash queue was full
  kError,        // the store or libargon2 failed
};

// The credential service's own Prometheus families, registered on the server's registry:
//   tally_password_checks_total{outcome}      VerifyPassword calls by CheckOutcome
//   tally_password_hash_seconds{operation}    one Argon2id run: "hash" (new hash) or "verify"
//   tally_password_hashes_in_flight           Argon2id runs going on right now
class CredentialMetrics {
 public:
  explicit CredentialMetrics(prometheus::Registry& registry);

  void RecordCheck(CheckOutcome outcome);
  void RecordHash(std::string_view operation, double seconds);
  prometheus::Gauge& in_flight() { return in_flight_; }

 private:
  prometheus::Family<prometheus::Counter>& checks_;
  prometheus::Family<prometheus::Histogram>& hash_seconds_;
  prometheus::Gauge& in_flight_;
};

}  // namespace tally::credential
