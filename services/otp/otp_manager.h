#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/otp/delivery_queue.h"
#include "services/otp/messages.h"
#include "services/otp/otp_metrics.h"
#include "services/otp/otp_store.h"
#include "services/otp/request_checks.h"  // kMaxCodeLength
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

struct OtpConfig {
  std::string hmac_key;  // >= 32 bytes: code MACs and destination tags
  std::string job_key;   // 32 bytes: AES-256-GCM of delivery jobs
  absl::Duration code_ttl = absl::Minutes(5);
  int max_attempts = 5;
  absl::Duration cooldown = absl::Seconds(30);
  int destination_hourly_cap = 5;
  int directory_daily_cap = 10000;
  Language language = Language::kEnglish;
};

// The OTP service's API logic: validation, code generation, MACs, message texts and job
// encryption. The rules that need atomicity (throttles, attempts, single use) are the store's.
// Free of gRPC; tested with a fake store, clock and random source.
class OtpManager {
 public:
  // `queue` may be null (no ListDeadLetters); `metrics` may be null.
  OtpManager(OtpStore& store, DeliveryQueue* queue, const Clock& clock, RandomSource& random,
             OtpConfig config, OtpMetrics* metrics);

  absl::StatusOr<pb::SendCodeResponse> SendCode(const Caller& caller,
                                                const pb::SendCodeRequest& request);
  absl::StatusOr<pb::VerifyCodeResponse> VerifyCode(const Caller& caller,
                                                    const pb::VerifyCodeRequest& request);
  absl::StatusOr<pb::ListDeadLettersResponse> ListDeadLetters(
      const Caller& caller, const pb::ListDeadLettersRequest& request);

  // HMAC-SHA256(key, challenge id ‖ code) in hex: what the store keeps instead of the code.
  static std::string CodeMac(absl::string_view key, absl::string_view challenge_id,
                             absl::string_view code);

 private:
  // The keyed digest that names what a send is throttled by ("destination" or "no-recipient":
  // the two never share a key).
  std::string ThrottleTag(absl::string_view kind, pb::Channel channel,
                          absl::string_view value) const;

  OtpStore& store_;
  DeliveryQueue* queue_;
  const Clock& clock_;
  RandomSource& random_;
  const OtpConfig config_;
  OtpMetrics* metrics_;
};

}  // namespace tally::otp
