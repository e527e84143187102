#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tally/common/v1/common.pb.h"
#include "tally/policy/v1/policy.pb.h"

// The points model of DESIGN.md §1: pure functions, no I/O, so every rule is tested directly.
namespace tally::policy {

using ::tally::common::v1::AuthMethod;
using ::tally::common::v1::MethodPoints;
using ::tally::policy::v1::AuthSettings;
using ::tally::policy::v1::Tier;

inline constexpr int kMaxPoints = 1000;  // for the level and for each method

// The methods a directory can weigh, in the order responses list them. AUTH_METHOD_TOTP,
// RECOVERY_CODE and TRUSTED_DEVICE are in the contract but not here until their points rules
// (DESIGN.md §1 rules 4b, 9) exist: until then settings and evaluations naming them are refused.
const std::vector<AuthMethod>& KnownMethods();

// DESIGN.md §1 rule 6. INVALID_ARGUMENT for TIER_UNSPECIFIED and unknown tiers.
absl::StatusOr<AuthSettings> DefaultSettingsForTier(Tier tier);

// Checks the settings an admin submits and returns them normalised: one entry per known method
// in KnownMethods() order, a method not listed getting 0 points (disabled).
//   INVALID_ARGUMENT: unknown, unsupported or unspecified method, a method listed twice,
//                     negative points, points or level above kMaxPoints.
//   FAILED_PRECONDITION: no login could ever succeed (level <= 0 or enabled points < level),
//                     with ErrorInfo SETTINGS_UNSATISFIABLE and a BadRequest naming
//                     settings.required_level (common/status/error_details.h).
absl::StatusOr<AuthSettings> ValidateSettings(const AuthSettings& settings);

// Points of `method` in `settings` (0 when absent: disabled).
int PointsFor(const AuthSettings& settings, AuthMethod method);

struct Evaluation {
  int score = 0;
  int required_level = 0;
  bool satisfied = false;
  std::vector<MethodPoints> offered;  // enabled, not yet completed, in KnownMethods() order
};

// Score of the distinct completed methods (a method counts once); INVALID_ARGUMENT for an
// unspecified, unknown or unsupported method.
absl::StatusOr<Evaluation> Evaluate(const AuthSettings& settings,
                                    absl::Span<const AuthMethod> completed);

}  // namespace tally::policy
