#include "services/otp/send_budgets.h"

#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/error_reasons.h"

namespace tally::otp {

const char* BudgetName(Budget budget) {
  switch (budget) {
    case Budget::kDestination: return "destination";
    case Budget::kDirectoryDay: return "directory_day";
    case Budget::kUnprovenUser: return "unproven_user";
    case Budget::kUnprovenClientIp: return "unproven_client_ip";
    case Budget::kUnprovenDirectory: return "unproven_directory";
    case Budget::kNoticeDestination: return "notice_destination";
  }
  return "unknown";
}

const char* BudgetKey(Budget budget) {
  switch (budget) {
    case Budget::kDestination: return "otp-dest";
    case Budget::kDirectoryDay: return "otp-day";
    case Budget::kUnprovenUser: return "otp-pre-user";
    case Budget::kUnprovenClientIp: return "otp-pre-ip";
    case Budget::kUnprovenDirectory: return "otp-pre-dir";
    case Budget::kNoticeDestination: return "otp-notice";
  }
  return "otp-unknown";
}

std::string RefusalResult(const SendRefusal& refusal) {
  if (refusal.cooldown) return "cooldown";
  switch (refusal.budget) {
    case Budget::kDestination: return "destination_cap";
    case Budget::kDirectoryDay: return "directory_cap";
    default: return absl::StrCat(BudgetName(refusal.budget), "_cap");
  }
}

absl::Status RefusalStatus(const SendRefusal& refusal) {
  const char* what = "a code was just sent to this destination";
  if (!refusal.cooldown) {
    switch (refusal.budget) {
      case Budget::kDestination:
        what = "too many codes sent to this destination in the last hour";
        break;
      case Budget::kDirectoryDay:
        what = "too many codes for this directory today";
        break;
      case Budget::kUnprovenUser:
        what = "too many codes for this user before sign-in in the last hour";
        break;
      case Budget::kUnprovenClientIp:
        what = "too many codes from this client address before sign-in in the last hour";
        break;
      case Budget::kUnprovenDirectory:
        what = "too many codes in this directory before sign-in in the last hour";
        break;
      case Budget::kNoticeDestination:
        what = "too many notices sent to this destination in the last hour";
        break;
    }
  }
  // Rounded up: waiting the stated time must be enough.
  const absl::Duration wait = absl::Ceil(refusal.retry_after, absl::Seconds(1));
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat(what, "; retry in ", absl::ToInt64Seconds(wait), "s"));
  status = WithErrorInfo(std::move(status), reasons::kSendBudgetExhausted,
                         {{"budget", BudgetName(refusal.budget)}});
  return WithRetryInfo(std::move(status), wait);
}

}  // namespace tally::otp
