#pragma once

#include "absl/strings/string_view.h"

// The reasons of API.md "Errors carry details": google.rpc.ErrorInfo.reason, domain
// kErrorDomain, on refusals a caller must act on. Callers match on these strings, so they are
// part of the contract: add new ones here, never rename one.
namespace tally::reasons {

inline constexpr absl::string_view kErrorDomain = "tally";

// FAILED_PRECONDITION: a sensitive change with a token whose auth_time is older than
// --reauth_max_age; the caller answers it with LoginService.StartStepUp.
inline constexpr absl::string_view kReauthenticationRequired = "REAUTHENTICATION_REQUIRED";

// FAILED_PRECONDITION, with BadRequest naming the field: settings refused by DESIGN.md §1
// rule 4 (no login could reach the level), 4b (a new user could not), 9 (a remembered device
// alone would reach it).
inline constexpr absl::string_view kSettingsUnsatisfiable = "SETTINGS_UNSATISFIABLE";
inline constexpr absl::string_view kSettingsNewUserLockedOut = "SETTINGS_NEW_USER_LOCKED_OUT";
inline constexpr absl::string_view kSettingsDeviceAlone = "SETTINGS_DEVICE_ALONE";

// RESOURCE_EXHAUSTED + RetryInfo: a code or notice refused by a send budget.
inline constexpr absl::string_view kSendBudgetExhausted = "SEND_BUDGET_EXHAUSTED";

// RESOURCE_EXHAUSTED + RetryInfo: too many StartLogin from one client address or directory.
inline constexpr absl::string_view kLoginRateLimited = "LOGIN_RATE_LIMITED";

}  // namespace tally::reasons
