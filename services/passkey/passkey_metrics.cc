#include "services/passkey/passkey_metrics.h"

namespace tally::passkey {

PrometheusCeremonyObserver::PrometheusCeremonyObserver(prometheus::Registry& registry)
    : ceremonies_(prometheus::BuildCounter()
                      .Name("tally_passkey_ceremonies_total")
                      .Help("WebAuthn ceremonies finished, by ceremony, result and reason.")
                      .Register(registry)),
      regressions_(prometheus::BuildCounter()
                       .Name("tally_passkey_counter_regressions_total")
                       .Help("Assertions refused because the sign counter did not increase "
                             "(possible cloned authenticator).")
                       .Register(registry)
                       .Add({})) {}

void PrometheusCeremonyObserver::Ceremony(absl::string_view ceremony, absl::string_view result,
                                          absl::string_view reason) {
  ceremonies_
      .Add({{"ceremony", std::string(ceremony)},
            {"result", std::string(result)},
            {"reason", std::string(reason)}})
      .Increment();
}

void PrometheusCeremonyObserver::CounterRegression() { regressions_.Increment(); }

}  // namespace tally::passkey
