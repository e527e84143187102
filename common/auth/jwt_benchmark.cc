// Session tokens: the orchestrator signs one per login, every service verifies one per
// authenticated call; services rebuild their verifier from the JWKS when it rotates. Built,
// never run by ctest:
//   build/bin/jwt_benchmark

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/auth/jwt.h"
#include "common/util/clock.h"

namespace tally {
namespace {

constexpr char kIssuer[] = "https://tally.example.com";

// The claims of a password + SMS login.
SessionClaims Claims() {
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  SessionClaims claims;
  claims.issuer = kIssuer;
  claims.subject = "usr_4q2x7kd3m5n6p7r8s9t0v1w2xy";
  claims.directory_id = "dir_a1b2c3d4e5f6g7h8j9k0m1n2p3";
  claims.session_id = "ses_z9y8x7w6v5t4s3r2q1p0n9m8k7";
  claims.acr = "30";
  claims.amr = {"pwd", "sms"};
  claims.roles = {"admin"};
  claims.issued_at = now;
  claims.auth_time = now;
  claims.expires_at = now + absl::Hours(1);
  return claims;
}

JwtVerifierOptions Options() {
  JwtVerifierOptions options;
  options.issuer = kIssuer;
  return options;
}

JwtSigner Signer() { return JwtSigner(*Ed25519PrivateKey::Generate()); }

void BM_Sign(benchmark::State& state) {
  const JwtSigner signer = Signer();
  const SessionClaims claims = Claims();
  for (auto _ : state) {
    absl::StatusOr<std::string> token = signer.Sign(claims);
    if (!token.ok()) {
      state.SkipWithError("sign failed");
      break;
    }
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sign);

// Verification with `state.range(0)` keys in the set (1 normally, 2 during a rotation).
void BM_Verify(benchmark::State& state) {
  const JwtSigner signer = Signer();
  std::vector<Ed25519PublicKey> keys = {signer.PublicKey()};
  for (int i = 1; i < state.range(0); ++i) keys.push_back(Signer().PublicKey());
  absl::StatusOr<JwtVerifier> verifier =
      JwtVerifier::FromKeys(keys, Options(), SystemClock::Get());
  absl::StatusOr<std::string> token = signer.Sign(Claims());
  if (!verifier.ok() || !token.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<SessionClaims> claims = verifier->Verify(*token);
    if (!claims.ok()) {
      state.SkipWithError(std::string(claims.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Verify)->ArgName("keys")->Arg(1)->Arg(2);

// A token with a bad signature: refused after the same parsing and one signature check.
void BM_VerifyBadSignature(benchmark::State& state) {
  const JwtSigner signer = Signer();
  absl::StatusOr<JwtVerifier> verifier = JwtVerifier::FromKeys(
      {signer.PublicKey()}, Options(), SystemClock::Get());
  absl::StatusOr<std::string> token = signer.Sign(Claims());
  if (!verifier.ok() || !token.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  // Flip bits of the signature's last base64url character.
  token->back() = token->back() == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    absl::StatusOr<SessionClaims> claims = verifier->Verify(*token);
    if (claims.ok()) {
      state.SkipWithError("a forged token was accepted");
      break;
    }
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyBadSignature);

// Building a verifier from the orchestrator's JWKS (two keys, as during a rotation).
void BM_FromJwks(benchmark::State& state) {
  absl::StatusOr<JwtVerifier> source = JwtVerifier::FromKeys(
      {Signer().PublicKey(), Signer().PublicKey()}, Options(),
      SystemClock::Get());
  if (!source.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  const std::string jwks = source->ToJwks();
  for (auto _ : state) {
    absl::StatusOr<JwtVerifier> verifier =
        JwtVerifier::FromJwks(jwks, Options(), SystemClock::Get());
    if (!verifier.ok()) {
      state.SkipWithError("JWKS refused");
      break;
    }
    benchmark::DoNotOptimize(verifier);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FromJwks);

}  // namespace
}  // namespace tally

BENCHMARK_MAIN();
