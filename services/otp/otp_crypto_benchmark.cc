// The CPU side of an OTP: what SendCode computes before its one Redis script (code, code MAC,
// destination tag, sealed delivery job) and what VerifyCode computes before its script (the
// code MAC), plus the sender's unsealing. Built, never run by ctest:
//   build/bin/otp_crypto_benchmark

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/util/random.h"
#include "services/otp/delivery_job.h"
#include "services/otp/messages.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/otp_manager.h"

namespace tally::otp {
namespace {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  CsprngRandom::Get().Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), n));
  return out;
}

// Ids as the services make them (NewId: prefix + 26 base32 characters).
std::string ChallengeId() { return NewId(CsprngRandom::Get(), "otp_"); }

void BM_GenerateCode(benchmark::State& state) {
  RandomSource& random = CsprngRandom::Get();
  for (auto _ : state) {
    std::string code = GenerateCode(random);
    benchmark::DoNotOptimize(code);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GenerateCode);

// HMAC-SHA256 over challenge id ‖ code with a 32-byte key: the raw primitive.
void BM_HmacSha256(benchmark::State& state) {
  const std::string key = RandomBytes(32);
  const std::string data = absl::StrCat(ChallengeId(), "123456");
  for (auto _ : state) {
    std::string mac = HmacSha256(key, data);
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_HmacSha256);

// What VerifyCode computes per attempt: hex(HMAC(key, challenge id ‖ code)).
void BM_CodeMac(benchmark::State& state) {
  const std::string key = RandomBytes(32);
  const std::string challenge_id = ChallengeId();
  for (auto _ : state) {
    std::string mac = OtpManager::CodeMac(key, challenge_id, "123456");
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CodeMac);

DeliveryJob Job(const std::string& challenge_id) {
  DeliveryJob job;
  job.directory_id = "dir_benchmark";
  job.challenge_id = challenge_id;
  job.channel = pb::CHANNEL_SMS;
  job.enqueue_time = absl::FromUnixSeconds(1'800'000'000);
  job.expire_time = job.enqueue_time + absl::Minutes(5);
  job.masked_destination = "+3161*****78";
  return job;
}

OutgoingMessage Message(const std::string& challenge_id, const std::string& code) {
  const MessageText text =
      ComposeMessage(Language::kEnglish, pb::CHANNEL_SMS, code, absl::Minutes(5));
  OutgoingMessage message;
  message.channel = pb::CHANNEL_SMS;
  message.destination = "+31612345678";
  message.subject = text.subject;
  message.text = text.text;
  message.challenge_id = challenge_id;
  return message;
}

// SendCode's sealing of the delivery job (JSON + AES-256-GCM with a fresh nonce).
void BM_SealMessage(benchmark::State& state) {
  const std::string key = RandomBytes(32);
  const std::string challenge_id = ChallengeId();
  const DeliveryJob job = Job(challenge_id);
  const OutgoingMessage message = Message(challenge_id, "123456");
  RandomSource& random = CsprngRandom::Get();
  for (auto _ : state) {
    std::string sealed = SealMessage(key, job, message, random);
    benchmark::DoNotOptimize(sealed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SealMessage);

// The sender's side: unseal and parse.
void BM_OpenMessage(benchmark::State& state) {
  const std::string key = RandomBytes(32);
  const std::string challenge_id = ChallengeId();
  DeliveryJob job = Job(challenge_id);
  job.sealed = SealMessage(key, job, Message(challenge_id, "123456"), CsprngRandom::Get());
  for (auto _ : state) {
    absl::StatusOr<OutgoingMessage> message = OpenMessage(key, job);
    if (!message.ok()) {
      state.SkipWithError("open failed");
      break;
    }
    benchmark::DoNotOptimize(message);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenMessage);

// Everything SendCode computes before its Redis script, as OtpManager::SendCode does it: id,
// code, message text, sealed job, destination tag, code MAC and the job's stream fields.
void BM_SendCodeCpu(benchmark::State& state) {
  const std::string hmac_key = RandomBytes(32);
  const std::string job_key = RandomBytes(32);
  RandomSource& random = CsprngRandom::Get();
  for (auto _ : state) {
    const std::string challenge_id = NewId(random, "otp_");
    const std::string code = GenerateCode(random);
    DeliveryJob job = Job(challenge_id);
    job.sealed = SealMessage(job_key, job, Message(challenge_id, code), random);
    std::string tag =
        HexEncode(HmacSha256(hmac_key, "destination|sms|+31612345678")).substr(0, 32);
    std::string mac = OtpManager::CodeMac(hmac_key, challenge_id, code);
    auto fields = JobToFields(job);
    benchmark::DoNotOptimize(tag);
    benchmark::DoNotOptimize(mac);
    benchmark::DoNotOptimize(fields);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SendCodeCpu);

}  // namespace
}  // namespace tally::otp

BENCHMARK_MAIN();
