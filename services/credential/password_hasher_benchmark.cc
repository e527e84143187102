// One Argon2id hash at the service's default parameters (m = 19456 KiB, t = 2, p = 1): the cost
// of every CreateUser / SetPassword with a password and of every VerifyPassword, with the
// working memory preallocated as the service holds it, and with libargon2 allocating for
// comparison. README.md reports the number; ctest never runs this.
//   build/bin/password_hasher_benchmark

#include "benchmark/benchmark.h"
#include "services/credential/password_hasher.h"

namespace tally::credential {
namespace {

constexpr size_t kDefaultBytes = size_t{Argon2Params{}.memory_kib} * 1024;

void BM_HashAtDefaultParameters(benchmark::State& state) {
  Argon2Buffers buffers(1, kDefaultBytes);
  const PasswordHasher hasher(Argon2Params{}, CsprngRandom::Get(), &buffers);
  for (auto _ : state) {
    absl::StatusOr<std::string> hash = hasher.Hash("correct horse battery staple");
    if (!hash.ok()) state.SkipWithError("argon2id failed");
    benchmark::DoNotOptimize(hash);
  }
}
BENCHMARK(BM_HashAtDefaultParameters)->Unit(benchmark::kMillisecond)->UseRealTime();

void Verifies(benchmark::State& state, Argon2Buffers* buffers) {
  const PasswordHasher hasher(Argon2Params{}, CsprngRandom::Get(), buffers);
  const std::string stored = *hasher.Hash("correct horse battery staple");
  for (auto _ : state) {
    auto verdict = hasher.Verify(stored, "correct horse battery staple");
    if (!verdict.ok() || !verdict->match) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(verdict);
  }
}

void BM_VerifyAtDefaultParameters(benchmark::State& state) {
  Argon2Buffers buffers(1, kDefaultBytes);
  Verifies(state, &buffers);
}
BENCHMARK(BM_VerifyAtDefaultParameters)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_VerifyLibargon2Allocating(benchmark::State& state) { Verifies(state, nullptr); }
BENCHMARK(BM_VerifyLibargon2Allocating)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tally::credential

BENCHMARK_MAIN();
