// WebAuthn on the passkey login path, per algorithm (ES256, EdDSA, RS256): the whole
// FinishLogin verification (ParseAssertionResponse + VerifyAssertion) and its parts (the stored
// COSE key to an OpenSSL key, the signature check), plus registration. Responses come from the
// software authenticator the tests use (real OpenSSL keys). Built, never run by ctest:
//   build/bin/webauthn_benchmark

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/util/random.h"
#include "services/passkey/testing/soft_authenticator.h"
#include "services/passkey/webauthn/crypto.h"
#include "services/passkey/webauthn/webauthn.h"

namespace tally::webauthn {
namespace {

using testing::SoftAuthenticator;

constexpr char kRpId[] = "login.example.com";
constexpr char kOrigin[] = "https://login.example.com";

std::string Challenge() {
  std::string challenge(32, '\0');
  CsprngRandom::Get().Fill(
      absl::MakeSpan(reinterpret_cast<uint8_t*>(challenge.data()), challenge.size()));
  return challenge;
}

RelyingParty Rp() {
  RelyingParty rp;
  rp.rp_id = kRpId;
  rp.origins = {kOrigin};
  return rp;
}

SoftAuthenticator::Alg AlgOf(const benchmark::State& state) {
  return static_cast<SoftAuthenticator::Alg>(state.range(0));
}

const char* Name(SoftAuthenticator::Alg alg) {
  switch (alg) {
    case SoftAuthenticator::Alg::kES256: return "ES256";
    case SoftAuthenticator::Alg::kEdDSA: return "EdDSA";
    case SoftAuthenticator::Alg::kRS256: return "RS256";
  }
  return "?";
}

// One login's assertion and what the passkey service has stored for the credential.
struct Login {
  std::string response_json;
  AuthenticationExpectation expect;
  StoredCredential stored;
};

Login MakeLogin(SoftAuthenticator& authenticator) {
  Login login;
  login.expect.rp = Rp();
  login.expect.challenge = Challenge();
  SoftAuthenticator::Ceremony ceremony;
  ceremony.rp_id = kRpId;
  ceremony.origin = kOrigin;
  ceremony.challenge = login.expect.challenge;
  login.response_json = authenticator.Assert(ceremony);
  login.stored.public_key_cose = authenticator.CosePublicKey();
  login.stored.sign_count = 0;  // the counter in the assertion (1) moves forward from it
  login.stored.backup_eligible = false;
  return login;
}

// FinishLogin's verification: parse the response JSON, then every §7.2 check.
void BM_FinishLogin(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const Login login = MakeLogin(authenticator);
  state.SetLabel(Name(AlgOf(state)));
  for (auto _ : state) {
    absl::StatusOr<AssertionResponse> response = ParseAssertionResponse(login.response_json);
    if (!response.ok()) {
      state.SkipWithError("parse failed");
      break;
    }
    absl::StatusOr<VerifiedAssertion> verified =
        VerifyAssertion(*response, login.expect, login.stored);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}

// The same with the JSON already parsed: VerifyAssertion alone.
void BM_VerifyAssertion(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const Login login = MakeLogin(authenticator);
  const AssertionResponse response = *ParseAssertionResponse(login.response_json);
  state.SetLabel(Name(AlgOf(state)));
  for (auto _ : state) {
    absl::StatusOr<VerifiedAssertion> verified =
        VerifyAssertion(response, login.expect, login.stored);
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseAssertionResponse(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const Login login = MakeLogin(authenticator);
  state.SetLabel(Name(AlgOf(state)));
  for (auto _ : state) {
    absl::StatusOr<AssertionResponse> response = ParseAssertionResponse(login.response_json);
    if (!response.ok()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(state.iterations());
}

// A COSE key to a checked OpenSSL key: as registration checks it (arg 1 = 0, KeyCheck::kFull)
// and as every assertion checks the stored key (arg 1 = 1, KeyCheck::kStored).
void BM_ParseCoseKey(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const std::string cose = authenticator.CosePublicKey();
  const KeyCheck check = state.range(1) == 0 ? KeyCheck::kFull : KeyCheck::kStored;
  state.SetLabel(absl::StrCat(Name(AlgOf(state)), check == KeyCheck::kFull ? " full" : " stored"));
  for (auto _ : state) {
    absl::StatusOr<CosePublicKey> key = ParseCoseKey(cose, check);
    if (!key.ok()) {
      state.SkipWithError("COSE key refused");
      break;
    }
    benchmark::DoNotOptimize(key);
  }
  state.SetItemsProcessed(state.iterations());
}

// The signature check alone, over authenticator data ‖ SHA-256(client data).
void BM_VerifySignature(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const CosePublicKey key = *ParseCoseKey(authenticator.CosePublicKey());
  const std::string data = absl::StrCat(std::string(37, '\x11'), Sha256("client data"));
  const std::string signature = authenticator.Sign(data);
  state.SetLabel(Name(AlgOf(state)));
  for (auto _ : state) {
    if (absl::Status s = VerifySignature(key.alg, key.key.get(), data, signature); !s.ok()) {
      state.SkipWithError("signature refused");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// FinishRegistration's verification with "none" (arg 1 = 0) and "packed" self attestation
// (arg 1 = 1).
void BM_VerifyRegistration(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  RegistrationExpectation expect;
  expect.rp = Rp();
  expect.challenge = Challenge();
  SoftAuthenticator::Ceremony ceremony;
  ceremony.rp_id = kRpId;
  ceremony.origin = kOrigin;
  ceremony.challenge = expect.challenge;
  const char* format = state.range(1) == 0 ? "none" : "packed";
  const std::string json = authenticator.Register(ceremony, "user-handle-0123456789", format);
  state.SetLabel(absl::StrCat(Name(AlgOf(state)), " ", format));
  for (auto _ : state) {
    absl::StatusOr<RegisteredCredential> credential = VerifyRegistration(json, expect);
    if (!credential.ok()) {
      state.SkipWithError(std::string(credential.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(credential);
  }
  state.SetItemsProcessed(state.iterations());
}

void PerAlgorithm(benchmark::internal::Benchmark* b) {
  b->ArgName("alg");
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    b->Arg(static_cast<int>(alg));
  }
}

void PerAlgorithmAndCheck(benchmark::internal::Benchmark* b) {
  b->ArgNames({"alg", "stored"});
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    for (int stored : {0, 1}) b->Args({static_cast<int>(alg), stored});
  }
}

void PerAlgorithmAndFormat(benchmark::internal::Benchmark* b) {
  b->ArgNames({"alg", "packed"});
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    for (int packed : {0, 1}) b->Args({static_cast<int>(alg), packed});
  }
}

BENCHMARK(BM_FinishLogin)->Apply(PerAlgorithm)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyAssertion)->Apply(PerAlgorithm)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseAssertionResponse)->Apply(PerAlgorithm)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParseCoseKey)->Apply(PerAlgorithmAndCheck)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifySignature)->Apply(PerAlgorithm)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyRegistration)->Apply(PerAlgorithmAndFormat)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tally::webauthn

BENCHMARK_MAIN();
