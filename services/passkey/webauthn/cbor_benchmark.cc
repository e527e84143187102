// Strict CBOR decoding on the passkey paths: the attestation object of every registration
// ("none" and "packed") and the COSE key of every assertion, per algorithm. Inputs come from the
// software authenticator (real keys). Built, never run by ctest:
//   build/bin/cbor_benchmark

#include <string>

#include "benchmark/benchmark.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"
#include "services/passkey/testing/soft_authenticator.h"
#include "services/passkey/webauthn/cbor.h"
#include "services/passkey/webauthn/webauthn.h"

namespace tally::webauthn {
namespace {

using testing::SoftAuthenticator;

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

// The raw attestation object of a fresh registration.
std::string AttestationObject(SoftAuthenticator& authenticator, const char* format) {
  SoftAuthenticator::Ceremony ceremony;
  ceremony.rp_id = "login.example.com";
  ceremony.origin = "https://login.example.com";
  ceremony.challenge = std::string(32, '\x07');
  const nlohmann::json json =
      nlohmann::json::parse(authenticator.Register(ceremony, "user-handle-0123456789", format));
  std::string raw;
  Base64UrlDecode(json["response"]["attestationObject"].get<std::string>(), &raw);
  return raw;
}

void SetLabel(benchmark::State& state, const std::string& what) {
  state.SetLabel(std::string(Name(AlgOf(state))) + " " + what);
}

const char* FormatOf(const benchmark::State& state) {
  return state.range(1) == 0 ? "none" : "packed";
}

// The strict pre-scan alone (no allocation).
void BM_ScanAttestationObject(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const std::string object = AttestationObject(authenticator, FormatOf(state));
  SetLabel(state, FormatOf(state));
  for (auto _ : state) {
    absl::StatusOr<size_t> size = ScanCborItem(object);
    if (!size.ok() || *size != object.size()) {
      state.SkipWithError("scan failed");
      break;
    }
    benchmark::DoNotOptimize(size);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(object.size()));
}

// What registration does with the object: decode it, take fmt and authData, parse authData.
void BM_DecodeAttestationObject(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const std::string object = AttestationObject(authenticator, FormatOf(state));
  SetLabel(state, FormatOf(state));
  for (auto _ : state) {
    absl::StatusOr<CborItem> item = DecodeCbor(object);
    if (!item.ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    std::optional<std::string> fmt = CborText(CborMapGet(item->get(), "fmt"));
    std::optional<std::string> auth_data = CborBytes(CborMapGet(item->get(), "authData"));
    if (!fmt.has_value() || !auth_data.has_value()) {
      state.SkipWithError("fields missing");
      break;
    }
    absl::StatusOr<AuthenticatorData> parsed = ParseAuthenticatorData(*auth_data);
    if (!parsed.ok()) {
      state.SkipWithError("authenticator data refused");
      break;
    }
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(object.size()));
}

// The COSE key as stored: decode and read the parameters an assertion needs.
void BM_DecodeCoseKey(benchmark::State& state) {
  SoftAuthenticator authenticator(AlgOf(state));
  const std::string cose = authenticator.CosePublicKey();
  SetLabel(state, "COSE_Key");
  for (auto _ : state) {
    absl::StatusOr<CborItem> item = DecodeCbor(cose);
    if (!item.ok()) {
      state.SkipWithError("decode failed");
      break;
    }
    std::optional<int64_t> kty = CborInt(CborMapGet(item->get(), int64_t{1}));
    std::optional<int64_t> alg = CborInt(CborMapGet(item->get(), int64_t{3}));
    if (!kty.has_value() || !alg.has_value()) {
      state.SkipWithError("kty/alg missing");
      break;
    }
    benchmark::DoNotOptimize(kty);
    benchmark::DoNotOptimize(alg);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(cose.size()));
}

void PerAlgorithm(benchmark::internal::Benchmark* b) {
  b->ArgName("alg");
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    b->Arg(static_cast<int>(alg));
  }
}

void PerAlgorithmAndFormat(benchmark::internal::Benchmark* b) {
  b->ArgNames({"alg", "packed"});
  for (auto alg : {SoftAuthenticator::Alg::kES256, SoftAuthenticator::Alg::kEdDSA,
                   SoftAuthenticator::Alg::kRS256}) {
    for (int packed : {0, 1}) b->Args({static_cast<int>(alg), packed});
  }
}

BENCHMARK(BM_ScanAttestationObject)->Apply(PerAlgorithmAndFormat);
BENCHMARK(BM_DecodeAttestationObject)->Apply(PerAlgorithmAndFormat);
BENCHMARK(BM_DecodeCoseKey)->Apply(PerAlgorithm);

}  // namespace
}  // namespace tally::webauthn

BENCHMARK_MAIN();
