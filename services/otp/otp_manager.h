#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/otp/delivery_job.h"
#include "services/otp/delivery_queue.h"
#include "services/otp/messages.h"
#include "services/otp/otp_metrics.h"
#include "services/otp/otp_store.h"
#include "services/otp/request_checks.h"  // kMaxCodeLength
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

struct OtpConfig {
  std::string hmac_key;  // >= 32 bytes: code MACs, budget tags and challenge slots
  std::string job_key;   // 32 bytes: AES-256-GCM of delivery jobs
  absl::Duration code_ttl = absl::Minutes(5);
  int max_attempts = 5;
  // The send budgets (send_budgets.h). Proven: per destination and per directory.
  absl::Duration cooldown = absl::Seconds(30);  // also between a user's codes before proof
  int destination_hourly_cap = 5;
  int directory_daily_cap = 10000;
  // Before any proof, per channel: per user (or no-recipient key), per client address (IPv6 per
  // /64), per directory.
  int unproven_user_hourly_cap = 3;
  int unproven_client_ip_hourly_cap = 10;
  int unproven_directory_hourly_cap = 100;
  // Notices, per destination.
  int notice_destination_hourly_cap = 5;
  Language language = Language::kEnglish;
};

// How long a notice's job may wait for delivery before it is given up as stale.
inline constexpr absl::Duration kNoticeLifetime = absl::Hours(24);

// The OTP service's API logic: validation, which send budgets apply, code generation, MACs,
// message texts and job encryption. The rules that need atomicity (budgets, attempts, single
// use) are the store's. Free of gRPC; tested with a fake store, queue, clock and random source.
//
// A code is written in two steps: the store's issue script checks and counts the send and
// writes the challenge (one Redis Cluster slot: the directory's), then the job is appended to
// the directory's delivery shard (another slot). A job therefore never exists for a challenge
// that was not written; if the second step fails, or the process dies between the two, the
// challenge has no job, no code is delivered and the user asks again. A sender drops a job
// whose challenge was replaced or used meanwhile.
class OtpManager {
 public:
  // `metrics` may be null.
  OtpManager(OtpStore& store, DeliveryQueue& queue, const Clock& clock, RandomSource& random,
             OtpConfig config, OtpMetrics* metrics);

  absl::StatusOr<pb::SendCodeResponse> SendCode(const Caller& caller,
                                                const pb::SendCodeRequest& request);
  absl::StatusOr<pb::VerifyCodeResponse> VerifyCode(const Caller& caller,
                                                    const pb::VerifyCodeRequest& request);
  absl::StatusOr<pb::SendNoticeResponse> SendNotice(const Caller& caller,
                                                    const pb::SendNoticeRequest& request);
  absl::StatusOr<pb::ListDeadLettersResponse> ListDeadLetters(
      const Caller& caller, const pb::ListDeadLettersRequest& request);

  // HMAC-SHA256(key, challenge id ‖ code) in hex: what the store keeps instead of the code.
  static std::string CodeMac(absl::string_view key, absl::string_view challenge_id,
                             absl::string_view code);

 private:
  // A keyed digest (32 hex digits) of what a budget counts or a challenge slot names: `kind`
  // keeps the namespaces apart, so no two budgets (nor a budget and a slot) share a key.
  std::string Tag(absl::string_view kind, pb::Channel channel, absl::string_view value) const;
  // The budgets of a code: the normal caps once a factor is proven, the small pre-proof
  // budgets before.
  void AddCodeBudgets(const pb::SendCodeRequest& request, absl::string_view client_address,
                      IssueParams& params) const;
  // Fills in the job's masked destination and its sealed message to `destination`.
  void Seal(DeliveryJob& job, absl::string_view destination, const MessageText& message);
  // Counts a refusal and turns it into the caller's error.
  absl::Status Refused(const SendRefusal& refusal, pb::Channel channel) const;

  OtpStore& store_;
  DeliveryQueue& queue_;
  const Clock& clock_;
  RandomSource& random_;
  const OtpConfig config_;
  OtpMetrics* metrics_;
};

}  // namespace tally::otp
