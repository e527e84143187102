#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tally/common/v1/common.pb.h"
#include "tally/policy/v1/policy.pb.h"

// The points model of DESIGN.md §1: pure functions, no I/O, so every rule is tested directly.
// The orchestrator links this library too (tally_points): a login is scored by the same code
// that validates the settings.
namespace tally::policy {

using ::tally::common::v1::AuthMethod;
using ::tally::common::v1::MethodPoints;
using ::tally::policy::v1::AuthSettings;
using ::tally::policy::v1::Tier;

inline constexpr int kMaxPoints = 1000;  // for the level and for each method

// AuthSettings.trusted_device_max_age: unset means kDefaultTrustedDeviceMaxAge; set, it must be
// a whole number of seconds in (0, kMaxTrustedDeviceMaxAge].
inline constexpr absl::Duration kDefaultTrustedDeviceMaxAge = absl::Hours(24 * 30);
inline constexpr absl::Duration kMaxTrustedDeviceMaxAge = absl::Hours(24 * 400);

// The methods a directory can weigh, in the order responses list them.
const std::vector<AuthMethod>& KnownMethods();

// DESIGN.md §1 rule 6 and API.md "v1 additions": the settings a directory of `tier` is created
// with, normalised as ValidateSettings returns them. INVALID_ARGUMENT for TIER_UNSPECIFIED and
// unknown tiers.
absl::StatusOr<AuthSettings> DefaultSettingsForTier(Tier tier);

// Checks the settings an admin submits (UpdateAuthSettingsRequest.settings; BadRequest field
// paths start with "settings.") and returns them normalised: one entry per known method in
// KnownMethods() order, a method not listed getting 0 points (disabled); trusted_device_max_age
// set (the default when unset); sms_allowed_country_codes as given.
//   INVALID_ARGUMENT: unknown or unspecified method, a method listed twice, negative points,
//                     points or level above kMaxPoints, trusted_device_max_age <= 0, above
//                     kMaxTrustedDeviceMaxAge or not whole seconds, a country code that is not
//                     an assigned ITU calling code written as 1-3 digits, or one listed twice.
//                     A BadRequest names the field; there is no ErrorInfo reason.
//   FAILED_PRECONDITION with ErrorInfo and a BadRequest naming the field
//   (common/status/error_reasons.h), checked in this order:
//     SETTINGS_UNSATISFIABLE        rule 4: level <= 0 or MaxScore() < level;
//     SETTINGS_NEW_USER_LOCKED_OUT  rule 4b: password + SMS + e-mail points < level;
//     SETTINGS_DEVICE_ALONE         rule 9: TRUSTED_DEVICE's points >= level.
absl::StatusOr<AuthSettings> ValidateSettings(const AuthSettings& settings);

// Points of `method` in `settings` (0 when absent: disabled).
int PointsFor(const AuthSettings& settings, AuthMethod method);

// Rule 4's sum: the highest score any login can reach under `settings` (what a login asking for
// more than the directory's level, StartLoginRequest.min_level, is checked against). Every
// enabled method counts, TRUSTED_DEVICE only when PASSWORD or PASSKEY is enabled, as it counts
// only alongside one of them (rule 9).
int MaxScore(const AuthSettings& settings);

// How long a remembered device counts under `settings`: trusted_device_max_age, or
// kDefaultTrustedDeviceMaxAge when unset.
absl::Duration TrustedDeviceMaxAge(const AuthSettings& settings);

// Whether `settings` let an SMS go to the E.164 number `e164` (the one home of "empty = every
// country"): sms_allowed_country_codes is empty, or lists the number's country calling code
// (CountryCallingCode of common/util/contact.h; a number without one is refused).
bool SmsAllowedTo(const AuthSettings& settings, absl::string_view e164);

struct Evaluation {
  int score = 0;
  int required_level = 0;
  bool satisfied = false;
  // Enabled, not yet completed, in KnownMethods() order. Never TRUSTED_DEVICE: a remembered
  // device is presented with StartLogin, not completed as a step a login could be offered.
  std::vector<MethodPoints> offered;
};

// Score of the distinct completed methods (a method counts once; TRUSTED_DEVICE only once
// PASSWORD or PASSKEY has counted too: rule 9); INVALID_ARGUMENT for an unspecified or unknown
// method.
absl::StatusOr<Evaluation> Evaluate(const AuthSettings& settings,
                                    absl::Span<const AuthMethod> completed);

}  // namespace tally::policy
