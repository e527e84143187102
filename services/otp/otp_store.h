#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

// Everything one SendCode writes, decided by OtpManager; the store applies it atomically.
struct IssueParams {
  std::string directory_id;
  std::string challenge_id;
  std::string user_id;  // empty with no_recipient
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  std::string destination;  // empty with no_recipient
  // A keyed digest of channel and destination (or no-recipient key): throttle keys never hold
  // the address itself.
  std::string destination_tag;
  // The code goes to nobody (SendCodeRequest.no_recipient): throttled by destination_tag like a
  // destination, checked against the directory's daily cap without counting in it, replacing
  // the previous such challenge of the same tag; its challenge matches no code and no job is
  // queued (job_fields and code_mac_hex are ignored).
  bool no_recipient = false;
  std::string code_mac_hex;  // HMAC-SHA256(key, challenge id ‖ code), hex
  int max_attempts = 5;
  absl::Time now;
  absl::Duration code_ttl;
  absl::Duration cooldown;
  int destination_hourly_cap = 5;
  int directory_daily_cap = 0;
  std::string day;      // UTC day of `now`, "20261129": the directory cap's window
  absl::Time day_end;   // when that window ends
  // The delivery job's stream fields (its text already encrypted).
  std::vector<std::pair<std::string, std::string>> job_fields;
};

struct IssueResult {
  bool issued = false;
  // When refused: "cooldown", "destination_cap" or "directory_cap", and how long to wait.
  std::string refusal;
  absl::Duration retry_after;
  std::string job_id;  // stream entry id of the delivery job when issued (none with no_recipient)
  // When issued: the earliest time the next send to this destination passes the cooldown and
  // the caps.
  absl::Time resend_after;
};

struct VerifyOutcome {
  pb::VerifyResult result = pb::VERIFY_RESULT_UNSPECIFIED;
  int attempts_left = 0;
  std::string user_id;
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
};

// Where challenges and throttles live. Each call is one atomic step: parallel calls never both
// accept one code, never pass an attempt limit and never both squeeze under a cap.
class OtpStore {
 public:
  virtual ~OtpStore() = default;

  // Checks cooldown and caps; when within them, replaces the user's previous challenge of the
  // same channel, writes the new one, counts the send and appends the delivery job, all or
  // nothing. A refusal is an IssueResult with issued = false (nothing written).
  virtual absl::StatusOr<IssueResult> Issue(const IssueParams& params) = 0;

  // One attempt against a challenge at `now` (see VerifyResult).
  virtual absl::StatusOr<VerifyOutcome> Verify(absl::string_view directory_id,
                                               absl::string_view challenge_id,
                                               absl::string_view code_mac_hex, absl::Time now) = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace tally::otp
