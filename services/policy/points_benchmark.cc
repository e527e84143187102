// The points model on the login path: the orchestrator evaluates the directory's settings after
// every step (Evaluate), and the policy service validates settings on every write. Built, never
// run by ctest:
//   build/bin/points_benchmark

#include <vector>

#include "benchmark/benchmark.h"
#include "services/policy/points.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;

// The freemium defaults (password 20, SMS 10, e-mail 10, passkey 30, level 30): the settings of
// most directories, and the ones where a login takes two steps.
AuthSettings Freemium() { return *DefaultSettingsForTier(::tally::policy::v1::TIER_FREEMIUM); }

void Run(benchmark::State& state, const AuthSettings& settings,
         const std::vector<AuthMethod>& completed, bool expect_satisfied) {
  for (auto _ : state) {
    absl::StatusOr<Evaluation> evaluation = Evaluate(settings, completed);
    if (!evaluation.ok() || evaluation->satisfied != expect_satisfied) {
      state.SkipWithError("unexpected evaluation");
      break;
    }
    benchmark::DoNotOptimize(evaluation);
  }
  state.SetItemsProcessed(state.iterations());
}

// After the first step: nothing done yet is satisfied, everything is offered.
void BM_EvaluateAfterPassword(benchmark::State& state) {
  Run(state, Freemium(), {AUTH_METHOD_PASSWORD}, false);
}
BENCHMARK(BM_EvaluateAfterPassword);

// The second step of a password + SMS login.
void BM_EvaluatePasswordAndSms(benchmark::State& state) {
  Run(state, Freemium(), {AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP}, true);
}
BENCHMARK(BM_EvaluatePasswordAndSms);

// A passkey alone reaches the level.
void BM_EvaluatePasskey(benchmark::State& state) {
  Run(state, Freemium(), {AUTH_METHOD_PASSKEY}, true);
}
BENCHMARK(BM_EvaluatePasskey);

// Every method, one of them repeated (counted once).
void BM_EvaluateAllMethods(benchmark::State& state) {
  Run(state, Freemium(),
      {AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP, AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY,
       AUTH_METHOD_SMS_OTP},
      true);
}
BENCHMARK(BM_EvaluateAllMethods);

void BM_PointsFor(benchmark::State& state) {
  const AuthSettings settings = Freemium();
  for (auto _ : state) {
    benchmark::DoNotOptimize(PointsFor(settings, AUTH_METHOD_PASSKEY));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PointsFor);

void BM_ValidateSettings(benchmark::State& state) {
  const AuthSettings settings = Freemium();
  for (auto _ : state) {
    absl::StatusOr<AuthSettings> normalised = ValidateSettings(settings);
    if (!normalised.ok()) {
      state.SkipWithError("settings refused");
      break;
    }
    benchmark::DoNotOptimize(normalised);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateSettings);

}  // namespace
}  // namespace tally::policy

BENCHMARK_MAIN();
