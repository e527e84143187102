#include "services/policy/points.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/error_reasons.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AuthMethod_IsValid;
using ::tally::common::v1::AuthMethod_Name;

absl::Status CheckMethod(int method) {
  if (method == ::tally::common::v1::AUTH_METHOD_UNSPECIFIED) {
    return absl::InvalidArgumentError("method must be specified");
  }
  if (!AuthMethod_IsValid(method)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown method ", method));
  }
  // In the contract but without points rules yet (TOTP, RECOVERY_CODE, TRUSTED_DEVICE: rules
  // 4b and 9 come with them): refused rather than silently weighed or dropped.
  if (std::find(KnownMethods().begin(), KnownMethods().end(), method) == KnownMethods().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AuthMethod_Name(static_cast<AuthMethod>(method)), " is not supported yet"));
  }
  return absl::OkStatus();
}

// DESIGN.md §1 rule 4, with the reason and the field a settings page shows the refusal by.
// ValidateSettings checks UpdateAuthSettingsRequest.settings, hence the field path.
absl::Status Unsatisfiable(absl::string_view why) {
  return WithBadRequest(WithErrorInfo(absl::FailedPreconditionError(why),
                                      reasons::kSettingsUnsatisfiable),
                        "settings.required_level", why);
}

AuthSettings MakeSettings(int required, int password, int sms, int email, int passkey) {
  AuthSettings settings;
  settings.set_required_level(required);
  const int points[] = {password, sms, email, passkey};
  for (size_t i = 0; i < KnownMethods().size(); ++i) {
    MethodPoints* mp = settings.add_method_points();
    mp->set_method(KnownMethods()[i]);
    mp->set_points(points[i]);
  }
  return settings;
}

}  // namespace

const std::vector<AuthMethod>& KnownMethods() {
  static const auto* methods = new std::vector<AuthMethod>{
      ::tally::common::v1::AUTH_METHOD_PASSWORD, ::tally::common::v1::AUTH_METHOD_SMS_OTP,
      ::tally::common::v1::AUTH_METHOD_EMAIL_OTP, ::tally::common::v1::AUTH_METHOD_PASSKEY};
  return *methods;
}

absl::StatusOr<AuthSettings> DefaultSettingsForTier(Tier tier) {
  switch (tier) {
    case ::tally::policy::v1::TIER_FREEMIUM:
    case ::tally::policy::v1::TIER_EXPLORER:
      return MakeSettings(30, 20, 10, 10, 30);  // 2FA on
    case ::tally::policy::v1::TIER_PROFESSIONAL:
    case ::tally::policy::v1::TIER_ENTERPRISE:
      return MakeSettings(20, 20, 0, 0, 30);  // 2FA opt-in
    default:
      return absl::InvalidArgumentError(
          tier == ::tally::policy::v1::TIER_UNSPECIFIED
              ? "tier must be specified"
              : absl::StrCat("unknown tier ", static_cast<int>(tier)));
  }
}

absl::StatusOr<AuthSettings> ValidateSettings(const AuthSettings& settings) {
  std::set<int> seen;
  for (const MethodPoints& mp : settings.method_points()) {
    if (absl::Status s = CheckMethod(mp.method()); !s.ok()) return s;
    const std::string name = AuthMethod_Name(mp.method());
    if (!seen.insert(mp.method()).second) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is listed twice"));
    }
    if (mp.points() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, " points must not be negative"));
    }
    if (mp.points() > kMaxPoints) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " points must be at most ", kMaxPoints));
    }
  }
  // In the contract before their rules (issues 20, 22): refused rather than dropped unseen.
  if (settings.has_trusted_device_max_age()) {
    return absl::InvalidArgumentError("trusted_device_max_age is not supported yet");
  }
  if (!settings.sms_allowed_country_codes().empty()) {
    return absl::InvalidArgumentError("sms_allowed_country_codes is not supported yet");
  }
  if (settings.required_level() > kMaxPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("required_level must be at most ", kMaxPoints));
  }
  AuthSettings normalised;
  normalised.set_directory_id(settings.directory_id());
  normalised.set_required_level(settings.required_level());
  int enabled_sum = 0;
  for (AuthMethod method : KnownMethods()) {
    MethodPoints* mp = normalised.add_method_points();
    mp->set_method(method);
    mp->set_points(PointsFor(settings, method));
    enabled_sum += mp->points();
  }
  if (settings.required_level() <= 0) {
    return Unsatisfiable("required_level must be at least 1: a level of 0 would let anyone in");
  }
  if (enabled_sum < settings.required_level()) {
    return Unsatisfiable(absl::StrCat(
        "unsatisfiable settings: all enabled methods together give ", enabled_sum,
        " points, less than required_level ", settings.required_level(),
        "; no user could log in"));
  }
  return normalised;
}

int PointsFor(const AuthSettings& settings, AuthMethod method) {
  for (const MethodPoints& mp : settings.method_points()) {
    if (mp.method() == method) return mp.points();
  }
  return 0;
}

absl::StatusOr<Evaluation> Evaluate(const AuthSettings& settings,
                                    absl::Span<const AuthMethod> completed) {
  std::set<int> done;
  for (AuthMethod method : completed) {
    if (absl::Status s = CheckMethod(method); !s.ok()) return s;
    done.insert(method);
  }
  Evaluation evaluation;
  evaluation.required_level = settings.required_level();
  for (AuthMethod method : KnownMethods()) {
    const int points = PointsFor(settings, method);
    if (points <= 0) continue;  // disabled: neither counted nor offered
    if (done.count(method) > 0) {
      evaluation.score += points;
    } else {
      MethodPoints offered;
      offered.set_method(method);
      offered.set_points(points);
      evaluation.offered.push_back(offered);
    }
  }
  evaluation.satisfied = evaluation.score >= evaluation.required_level;
  return evaluation;
}

}  // namespace tally::policy
