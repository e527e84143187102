#include "services/policy/points.h"

#include <optional>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/error_details.h"
#include "common/status/error_reasons.h"
#include "common/util/contact.h"

namespace tally::policy {
namespace {

namespace cpb = ::tally::common::v1;
using cpb::AuthMethod_IsValid;
using cpb::AuthMethod_Name;

constexpr AuthMethod kPassword = cpb::AUTH_METHOD_PASSWORD;
constexpr AuthMethod kSms = cpb::AUTH_METHOD_SMS_OTP;
constexpr AuthMethod kEmail = cpb::AUTH_METHOD_EMAIL_OTP;
constexpr AuthMethod kPasskey = cpb::AUTH_METHOD_PASSKEY;
constexpr AuthMethod kTrustedDevice = cpb::AUTH_METHOD_TRUSTED_DEVICE;

// ValidateSettings checks UpdateAuthSettingsRequest.settings, hence the field paths.
constexpr absl::string_view kLevelField = "settings.required_level";
constexpr absl::string_view kMaxAgeField = "settings.trusted_device_max_age";

absl::Status CheckMethod(int method) {
  if (method == cpb::AUTH_METHOD_UNSPECIFIED) {
    return absl::InvalidArgumentError("method must be specified");
  }
  if (!AuthMethod_IsValid(method)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown method ", method));
  }
  return absl::OkStatus();
}

std::string MethodField(int index, absl::string_view leaf) {
  return absl::StrCat("settings.method_points[", index, "].", leaf);
}

// Malformed settings: INVALID_ARGUMENT, with the field a settings page shows the refusal by.
absl::Status Malformed(absl::string_view field, absl::string_view why) {
  return WithBadRequest(absl::InvalidArgumentError(why), field, why);
}

// Settings refused by a rule of DESIGN.md §1 (4, 4b, 9): the reason and the field.
absl::Status Refused(absl::string_view reason, absl::string_view field, absl::string_view why) {
  return WithBadRequest(WithErrorInfo(absl::FailedPreconditionError(why), reason), field, why);
}

// The points `method` adds when enabled, 0 when disabled (or, unvalidated, negative).
int EnabledPoints(const AuthSettings& settings, AuthMethod method) {
  const int points = PointsFor(settings, method);
  return points > 0 ? points : 0;
}

absl::Status CheckMaxAge(const google::protobuf::Duration& max_age) {
  if (max_age.nanos() != 0) {
    return Malformed(kMaxAgeField, "trusted_device_max_age must be a whole number of seconds");
  }
  if (max_age.seconds() <= 0) {
    return Malformed(kMaxAgeField, "trusted_device_max_age must be positive");
  }
  if (max_age.seconds() > absl::ToInt64Seconds(kMaxTrustedDeviceMaxAge)) {
    return Malformed(kMaxAgeField,
                     absl::StrCat("trusted_device_max_age must be at most ",
                                  absl::ToInt64Hours(kMaxTrustedDeviceMaxAge) / 24, " days"));
  }
  return absl::OkStatus();
}

// Each entry is an assigned ITU-T E.164 country calling code written as after the '+' ("31",
// "1", "882"): 1 to 3 ASCII digits, no leading zero; the list names each code once. Messages
// name the entry by its index, never quoting it.
absl::Status CheckCountryCodes(const AuthSettings& settings) {
  std::set<int> seen;
  for (int i = 0; i < settings.sms_allowed_country_codes_size(); ++i) {
    const std::string& code = settings.sms_allowed_country_codes(i);
    const std::string field = absl::StrCat("settings.sms_allowed_country_codes[", i, "]");
    bool digits = !code.empty() && code.size() <= 3 && code[0] != '0';
    for (char c : code) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
    int value = 0;
    if (!digits || !absl::SimpleAtoi(code, &value)) {
      return Malformed(field, absl::StrCat("sms_allowed_country_codes[", i,
                                           "] must be a country calling code: 1 to 3 digits "
                                           "without '+' or a leading 0"));
    }
    if (!IsCountryCallingCode(value)) {
      return Malformed(field, absl::StrCat("sms_allowed_country_codes[", i,
                                           "] is not an assigned country calling code"));
    }
    if (!seen.insert(value).second) {
      return Malformed(field, absl::StrCat("sms_allowed_country_codes[", i, "] is listed twice"));
    }
  }
  return absl::OkStatus();
}

// DESIGN.md §1 rules 4, 4b and 9 on settings whose shape is valid.
absl::Status CheckRules(const AuthSettings& submitted, const AuthSettings& normalised) {
  const int level = normalised.required_level();
  if (level <= 0) {
    return Refused(reasons::kSettingsUnsatisfiable, kLevelField,
                   "required_level must be at least 1: a level of 0 would let anyone in");
  }
  // Rule 4's sum is MaxScore: with PASSWORD and PASSKEY both off a remembered device can never
  // count (it only counts alongside one of them), so its points cannot make settings
  // satisfiable.
  if (const int max_score = MaxScore(normalised); max_score < level) {
    return Refused(reasons::kSettingsUnsatisfiable, kLevelField,
                   absl::StrCat("unsatisfiable settings: all enabled methods together give ",
                                max_score, " points, less than required_level ", level,
                                "; no user could log in"));
  }
  // A new user has no passkey, authenticator, recovery codes or remembered device yet.
  const int new_user = EnabledPoints(normalised, kPassword) + EnabledPoints(normalised, kSms) +
                       EnabledPoints(normalised, kEmail);
  if (new_user < level) {
    return Refused(reasons::kSettingsNewUserLockedOut, kLevelField,
                   absl::StrCat("password, SMS and e-mail together give ", new_user,
                                " points, less than required_level ", level,
                                "; a new user, who has nothing else yet, could not log in"));
  }
  if (PointsFor(normalised, kTrustedDevice) >= level) {
    int index = 0;
    while (submitted.method_points(index).method() != kTrustedDevice) ++index;  // listed: > 0
    return Refused(reasons::kSettingsDeviceAlone, MethodField(index, "points"),
                   absl::StrCat("TRUSTED_DEVICE points reach required_level ", level,
                                " alone; a remembered device must never replace the password "
                                "or passkey"));
  }
  return absl::OkStatus();
}

// Settings in KnownMethods() order.
AuthSettings MakeSettings(int required, const std::vector<int>& points) {
  AuthSettings settings;
  settings.set_required_level(required);
  for (size_t i = 0; i < KnownMethods().size(); ++i) {
    MethodPoints* mp = settings.add_method_points();
    mp->set_method(KnownMethods()[i]);
    mp->set_points(points[i]);
  }
  settings.mutable_trusted_device_max_age()->set_seconds(
      absl::ToInt64Seconds(kDefaultTrustedDeviceMaxAge));
  return settings;
}

}  // namespace

const std::vector<AuthMethod>& KnownMethods() {
  static const auto* methods = new std::vector<AuthMethod>{
      kPassword, kSms, kEmail, kPasskey, cpb::AUTH_METHOD_TOTP, cpb::AUTH_METHOD_RECOVERY_CODE,
      kTrustedDevice};
  return *methods;
}

absl::StatusOr<AuthSettings> DefaultSettingsForTier(Tier tier) {
  switch (tier) {
    // password, sms, email, passkey, totp, recovery_code, trusted_device
    case ::tally::policy::v1::TIER_FREEMIUM:
    case ::tally::policy::v1::TIER_EXPLORER:
      return MakeSettings(30, {20, 10, 10, 30, 10, 10, 10});  // 2FA on
    case ::tally::policy::v1::TIER_PROFESSIONAL:
    case ::tally::policy::v1::TIER_ENTERPRISE:
      return MakeSettings(20, {20, 0, 0, 30, 0, 0, 0});  // 2FA opt-in
    default:
      return absl::InvalidArgumentError(
          tier == ::tally::policy::v1::TIER_UNSPECIFIED
              ? "tier must be specified"
              : absl::StrCat("unknown tier ", static_cast<int>(tier)));
  }
}

absl::StatusOr<AuthSettings> ValidateSettings(const AuthSettings& settings) {
  std::set<int> seen;
  for (int i = 0; i < settings.method_points_size(); ++i) {
    const MethodPoints& mp = settings.method_points(i);
    if (absl::Status s = CheckMethod(mp.method()); !s.ok()) {
      return Malformed(MethodField(i, "method"), s.message());
    }
    const std::string name = AuthMethod_Name(mp.method());
    if (!seen.insert(mp.method()).second) {
      return Malformed(MethodField(i, "method"), absl::StrCat(name, " is listed twice"));
    }
    if (mp.points() < 0) {
      return Malformed(MethodField(i, "points"),
                       absl::StrCat(name, " points must not be negative"));
    }
    if (mp.points() > kMaxPoints) {
      return Malformed(MethodField(i, "points"),
                       absl::StrCat(name, " points must be at most ", kMaxPoints));
    }
  }
  if (settings.required_level() > kMaxPoints) {
    return Malformed(kLevelField, absl::StrCat("required_level must be at most ", kMaxPoints));
  }
  if (settings.has_trusted_device_max_age()) {
    if (absl::Status s = CheckMaxAge(settings.trusted_device_max_age()); !s.ok()) return s;
  }
  if (absl::Status s = CheckCountryCodes(settings); !s.ok()) return s;

  AuthSettings normalised;
  normalised.set_directory_id(settings.directory_id());
  normalised.set_required_level(settings.required_level());
  for (AuthMethod method : KnownMethods()) {
    MethodPoints* mp = normalised.add_method_points();
    mp->set_method(method);
    mp->set_points(PointsFor(settings, method));
  }
  normalised.mutable_trusted_device_max_age()->set_seconds(
      absl::ToInt64Seconds(TrustedDeviceMaxAge(settings)));
  *normalised.mutable_sms_allowed_country_codes() = settings.sms_allowed_country_codes();
  if (absl::Status s = CheckRules(settings, normalised); !s.ok()) return s;
  return normalised;
}

int PointsFor(const AuthSettings& settings, AuthMethod method) {
  for (const MethodPoints& mp : settings.method_points()) {
    if (mp.method() == method) return mp.points();
  }
  return 0;
}

int MaxScore(const AuthSettings& settings) {
  int sum = 0;
  for (AuthMethod method : KnownMethods()) {
    if (method != kTrustedDevice) sum += EnabledPoints(settings, method);
  }
  if (EnabledPoints(settings, kPassword) > 0 || EnabledPoints(settings, kPasskey) > 0) {
    sum += EnabledPoints(settings, kTrustedDevice);
  }
  return sum;
}

absl::Duration TrustedDeviceMaxAge(const AuthSettings& settings) {
  if (!settings.has_trusted_device_max_age()) return kDefaultTrustedDeviceMaxAge;
  return absl::Seconds(settings.trusted_device_max_age().seconds()) +
         absl::Nanoseconds(settings.trusted_device_max_age().nanos());
}

bool SmsAllowedTo(const AuthSettings& settings, absl::string_view e164) {
  if (settings.sms_allowed_country_codes().empty()) return true;
  const std::optional<int> code = CountryCallingCode(e164);
  if (!code.has_value()) return false;
  const std::string wanted = absl::StrCat(*code);  // as stored: digits, no leading zero
  for (const std::string& allowed : settings.sms_allowed_country_codes()) {
    if (allowed == wanted) return true;
  }
  return false;
}

absl::StatusOr<Evaluation> Evaluate(const AuthSettings& settings,
                                    absl::Span<const AuthMethod> completed) {
  std::set<int> done;
  for (AuthMethod method : completed) {
    if (absl::Status s = CheckMethod(method); !s.ok()) return s;
    done.insert(method);
  }
  // Rule 9: a remembered device counts only alongside a password or a passkey that counted.
  const bool device_counts =
      (done.count(kPassword) > 0 && EnabledPoints(settings, kPassword) > 0) ||
      (done.count(kPasskey) > 0 && EnabledPoints(settings, kPasskey) > 0);
  Evaluation evaluation;
  evaluation.required_level = settings.required_level();
  for (AuthMethod method : KnownMethods()) {
    const int points = PointsFor(settings, method);
    if (points <= 0) continue;  // disabled: neither counted nor offered
    if (done.count(method) > 0) {
      if (method != kTrustedDevice || device_counts) evaluation.score += points;
    } else if (method != kTrustedDevice) {
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
