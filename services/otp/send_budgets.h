#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// The send budgets (DESIGN.md §6, issue 20): every limit a code or a notice must fit in. Which
// budgets a send draws from is decided by OtpManager; the Redis issue script checks and counts
// them all at once (redis_otp_store.cc). Messages cost money, so:
//   - a code for a login that has proven a factor draws from the normal caps: a cooldown and a
//     cap per sliding hour per destination, and a cap per UTC day per directory;
//   - a code before any proof draws from small budgets of its own, per user (with the
//     cooldown), per client address and per directory, each per channel: someone who knows
//     usernames can spend those, never the proven user's or the directory's daily cap;
//   - a notice draws from a cap per destination of its own.
// A code to nobody (an unknown user) draws from exactly the budgets a real one would.
namespace tally::otp {

enum class Budget {
  kDestination,        // proven: cooldown + cap per sliding hour, per destination
  kDirectoryDay,       // proven: cap per UTC day, per directory (checked before proof too)
  kUnprovenUser,       // before proof: cooldown + cap per sliding hour, per user and channel
  kUnprovenClientIp,   // before proof: cap per sliding hour, per client address and channel
  kUnprovenDirectory,  // before proof: cap per sliding hour, per directory and channel
  kNoticeDestination,  // notices: cap per sliding hour, per destination
};

// The budget's name: the `budget` label of tally_otp_sends_refused_total and the `budget`
// metadata of the SEND_BUDGET_EXHAUSTED ErrorInfo. "destination", "directory_day",
// "unproven_user", "unproven_client_ip", "unproven_directory", "notice_destination".
const char* BudgetName(Budget budget);

// The key segment of a window budget's sorted sets (otp_keys.h BudgetSends).
const char* BudgetKey(Budget budget);

// One sliding-window budget a send must fit in; counted when the send passes every check.
struct BudgetWindow {
  Budget budget = Budget::kDestination;
  // What is counted: a keyed digest (never a phone number, address or IP) or a channel name.
  std::string tag;
  int cap = 1;
  absl::Duration cooldown;  // least time since the last counted send; zero: none
  absl::Duration window = absl::Hours(1);
};

// The directory's cap per UTC day.
struct DayCap {
  int cap = 0;          // 0: not checked
  std::string day;      // "20261129"
  absl::Time end;       // when that day ends (UTC)
  bool count = false;   // the send counts in it
  // resend_after as if the send counted (a proven send to nobody answers as a real one does).
  bool answer_as_counted = false;
};

// Why a send was refused and how long until it would pass.
struct SendRefusal {
  Budget budget = Budget::kDestination;
  bool cooldown = false;  // the budget's cooldown, not its cap
  absl::Duration retry_after;
};

// The result label of tally_otp_codes_issued_total for a refused code: "cooldown",
// "destination_cap", "directory_cap", "unproven_user_cap", "unproven_client_ip_cap",
// "unproven_directory_cap".
std::string RefusalResult(const SendRefusal& refusal);

// RESOURCE_EXHAUSTED "<what>; retry in 27s" with ErrorInfo SEND_BUDGET_EXHAUSTED (metadata
// `budget`) and RetryInfo (the delay, rounded up to whole seconds). The words never tell
// whether the user exists: a code to nobody is refused in the same words.
absl::Status RefusalStatus(const SendRefusal& refusal);

}  // namespace tally::otp
