#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/otp/send_budgets.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

// The challenge a code's send writes once it fits its budgets.
struct ChallengeWrite {
  // keys::NewChallengeId: its slot names the key, so this replaces the previous challenge of
  // the same user (or no-recipient key) and channel.
  std::string challenge_id;
  std::string user_id;  // empty with no_recipient
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  std::string destination;  // empty with no_recipient
  // The code goes to nobody (SendCodeRequest.no_recipient): the challenge matches no code (its
  // MAC is "none"); code_mac_hex is ignored.
  bool no_recipient = false;
  std::string code_mac_hex;  // HMAC-SHA256(key, challenge id ‖ code), hex
  int max_attempts = 5;
  absl::Duration code_ttl;
};

// Everything one send (a code or a notice) checks and writes, decided by OtpManager; the store
// applies it atomically.
struct IssueParams {
  std::string directory_id;
  absl::Time now;
  // The sliding-window budgets, checked in this order; the first one refusing is the answer.
  std::vector<BudgetWindow> windows;
  DayCap day;
  // Recorded in every window: the challenge id or the notice id.
  std::string member;
  // A code's challenge; none for a notice.
  std::optional<ChallengeWrite> challenge;
};

struct IssueResult {
  bool issued = false;
  SendRefusal refusal;  // when not issued: which budget and how long to wait
  // When issued: the earliest time the next send of this kind passes the cooldown and the caps.
  absl::Time resend_after;
};

struct VerifyOutcome {
  pb::VerifyResult result = pb::VERIFY_RESULT_UNSPECIFIED;
  int attempts_left = 0;
  std::string user_id;
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
};

// Where challenges and send budgets live. Each call is one atomic step: parallel calls never
// both accept one code, never pass an attempt limit and never both squeeze under a cap.
class OtpStore {
 public:
  virtual ~OtpStore() = default;

  // Checks every budget of the send; when it fits them all, counts it in each and writes the
  // challenge (replacing the previous one of its slot), all or nothing. A refusal is an
  // IssueResult with issued = false (nothing written). The delivery job is appended afterwards
  // (DeliveryQueue::Enqueue): a job never exists for a challenge that was not written.
  virtual absl::StatusOr<IssueResult> Issue(const IssueParams& params) = 0;

  // One attempt against a challenge at `now` (see VerifyResult).
  virtual absl::StatusOr<VerifyOutcome> Verify(absl::string_view directory_id,
                                               absl::string_view challenge_id,
                                               absl::string_view code_mac_hex, absl::Time now) = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace tally::otp
