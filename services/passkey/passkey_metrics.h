#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace tally::passkey {

// What the manager reports; a no-op by default so unit tests need no registry.
class CeremonyObserver {
 public:
  virtual ~CeremonyObserver() = default;
  // ceremony: "registration" | "authentication"; result: "success" | "failure"; reason: a
  // webauthn reason code, or "challenge", "permission", "store", ... for failures.
  virtual void Ceremony(absl::string_view /*ceremony*/, absl::string_view /*result*/,
                        absl::string_view /*reason*/) {}
  // A sign counter that did not move forward: possible cloned authenticator.
  virtual void CounterRegression() {}
};

// tally_passkey_ceremonies_total{ceremony,result,reason} and
// tally_passkey_counter_regressions_total.
class PrometheusCeremonyObserver final : public CeremonyObserver {
 public:
  explicit PrometheusCeremonyObserver(prometheus::Registry& registry);
  void Ceremony(absl::string_view ceremony, absl::string_view result,
                absl::string_view reason) override;
  void CounterRegression() override;

 private:
  prometheus::Family<prometheus::Counter>& ceremonies_;
  prometheus::Counter& regressions_;
};

}  // namespace tally::passkey
