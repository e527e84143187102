// One Argon2id hash at the service's default parameters (m = 19456 KiB, t = 2, p = 1): the cost
// of every CreateUser / SetPassword with a password and of every VerifyPassword. README.md
// reports the number; ctest never runs this.
//   build/bin/password_hasher_benchmark

#include "benchmark/benchmark.h"
#include "services/credential/password_hasher.h"

namespace tally::credential {
namespace {

void BM_HashAtDefaultParameters(benchmark::State& state) {
  const PasswordHasher hasher(Argon2Params{}, CsprngRandom::Get());
  for (auto _ : state) {
    absl::StatusOr<std::string> hash = hasher.Hash("correct horse battery staple");
    if (!hash.ok()) state.SkipWithError("argon2id failed");
    benchmark::DoNotOptimize(hash);
  }
}
BENCHMARK(BM_HashAtDefaultParameters)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_VerifyAtDefaultParameters(benchmark::State& state) {
  const PasswordHasher hasher(Argon2Params{}, CsprngRandom::Get());
  const std::string stored = *hasher.Hash("correct horse battery staple");
  for (auto _ : state) {
    auto verdict = hasher.Verify(stored, "correct horse battery staple");
    if (!verdict.ok() || !verdict->match) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(verdict);
  }
}
BENCHMARK(BM_VerifyAtDefaultParameters)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tally::credential

BENCHMARK_MAIN();
