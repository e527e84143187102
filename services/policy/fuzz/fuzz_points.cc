// libFuzzer: the settings check of UpdateAuthSettings, the tier check of CreateDirectory and the
// scoring of Evaluate (services/policy/points.h), fed an UpdateAuthSettingsRequest parsed as
// protobuf takes it off the wire. Evaluate scores the methods the request lists (any numbers)
// against the settings as validated, or, when they are refused, against the defaults of the
// tier the required level picks, as the service only ever scores stored (validated) settings.
//
// Invariants: accepted settings list every known method once, in KnownMethods() order, with
// 0..kMaxPoints points, a required level of 1..kMaxPoints that the enabled methods can reach
// (a remembered device only beside a password or passkey: rule 4), that password, SMS and
// e-mail reach (4b) and that a remembered device alone does not (9), a device age of whole
// seconds in (0, 400 days], assigned country codes each once; they validate again to
// themselves. Refusals are INVALID_ARGUMENT or FAILED_PRECONDITION, the latter always with a
// reason and a field; every tier either has defaults that validate or is refused; a score is
// the sum of the distinct completed enabled methods, a device's only beside a completed
// enabled password or passkey, satisfied exactly when it reaches the level, and the offered
// methods are the enabled ones not completed, never the device.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/status/error_details.h"
#include "common/testing/fuzz_checks.h"
#include "common/util/contact.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/policy/points.h"
#include "tally/policy/v1/policy.pb.h"

namespace {

using ::tally::fuzz::Check;

namespace pol = ::tally::policy;
namespace cpb = ::tally::common::v1;

void CheckValid(const pol::AuthSettings& settings) {
  const auto& known = pol::KnownMethods();
  Check(settings.method_points_size() == static_cast<int>(known.size()));
  int sum = 0;
  for (size_t i = 0; i < known.size(); ++i) {
    const auto& mp = settings.method_points(static_cast<int>(i));
    Check(mp.method() == known[i] && mp.points() >= 0 && mp.points() <= pol::kMaxPoints);
    if (mp.method() != cpb::AUTH_METHOD_TRUSTED_DEVICE) sum += mp.points();
  }
  const int device = pol::PointsFor(settings, cpb::AUTH_METHOD_TRUSTED_DEVICE);
  if (pol::PointsFor(settings, cpb::AUTH_METHOD_PASSWORD) > 0 ||
      pol::PointsFor(settings, cpb::AUTH_METHOD_PASSKEY) > 0) {
    sum += device;
  }
  const int level = settings.required_level();
  Check(level >= 1 && level <= pol::kMaxPoints);
  Check(sum >= level && pol::MaxScore(settings) == sum);
  Check(pol::PointsFor(settings, cpb::AUTH_METHOD_PASSWORD) +
            pol::PointsFor(settings, cpb::AUTH_METHOD_SMS_OTP) +
            pol::PointsFor(settings, cpb::AUTH_METHOD_EMAIL_OTP) >=
        level);
  Check(device < level);
  Check(settings.has_trusted_device_max_age() && settings.trusted_device_max_age().nanos() == 0);
  Check(settings.trusted_device_max_age().seconds() > 0 &&
        absl::Seconds(settings.trusted_device_max_age().seconds()) <=
            pol::kMaxTrustedDeviceMaxAge);
  std::set<std::string> codes;
  for (const std::string& code : settings.sms_allowed_country_codes()) {
    int value = 0;
    Check(!code.empty() && code.size() <= 3 && code[0] != '0' && absl::SimpleAtoi(code, &value) &&
          tally::IsCountryCallingCode(value) && codes.insert(code).second);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally::policy::v1::UpdateAuthSettingsRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const pol::AuthSettings& submitted = request.settings();

  absl::StatusOr<pol::AuthSettings> valid = pol::ValidateSettings(submitted);
  if (valid.ok()) {
    CheckValid(*valid);
    Check(valid->directory_id() == submitted.directory_id());
    for (const auto& mp : valid->method_points()) {
      Check(mp.points() == pol::PointsFor(submitted, mp.method()));
    }
    absl::StatusOr<pol::AuthSettings> again = pol::ValidateSettings(*valid);
    Check(again.ok() &&
          google::protobuf::util::MessageDifferencer::Equals(*again, *valid));
  } else if (valid.status().code() == absl::StatusCode::kFailedPrecondition) {
    Check(!tally::ErrorReason(valid.status()).empty());
    Check(tally::FieldViolationsOf(valid.status()).size() == 1);
  } else {
    Check(valid.status().code() == absl::StatusCode::kInvalidArgument);
  }

  const auto tier = static_cast<pol::Tier>(submitted.required_level());
  absl::StatusOr<pol::AuthSettings> defaults = pol::DefaultSettingsForTier(tier);
  if (defaults.ok()) {
    Check(tally::policy::v1::Tier_IsValid(submitted.required_level()) &&
          tier != tally::policy::v1::TIER_UNSPECIFIED);
    Check(pol::ValidateSettings(*defaults).ok());
    CheckValid(*defaults);
  } else {
    Check(defaults.status().code() == absl::StatusCode::kInvalidArgument);
  }

  const pol::AuthSettings scored =
      valid.ok() ? *valid : *pol::DefaultSettingsForTier(tally::policy::v1::TIER_FREEMIUM);
  std::vector<pol::AuthMethod> completed;
  for (const auto& mp : submitted.method_points()) completed.push_back(mp.method());
  absl::StatusOr<pol::Evaluation> evaluation = pol::Evaluate(scored, completed);
  bool all_known = true;
  for (pol::AuthMethod m : completed) {
    all_known = all_known && m != cpb::AUTH_METHOD_UNSPECIFIED && cpb::AuthMethod_IsValid(m);
  }
  Check(evaluation.ok() == all_known);
  if (!evaluation.ok()) {
    Check(evaluation.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::set<pol::AuthMethod> done(completed.begin(), completed.end());
  const auto counted = [&](pol::AuthMethod m) {
    return done.count(m) > 0 && pol::PointsFor(scored, m) > 0;
  };
  const bool device_counts =
      counted(cpb::AUTH_METHOD_PASSWORD) || counted(cpb::AUTH_METHOD_PASSKEY);
  int score = 0;
  std::set<pol::AuthMethod> offered;
  for (pol::AuthMethod m : pol::KnownMethods()) {
    const int points = pol::PointsFor(scored, m);
    if (points <= 0) continue;
    if (done.count(m)) {
      if (m != cpb::AUTH_METHOD_TRUSTED_DEVICE || device_counts) score += points;
    } else if (m != cpb::AUTH_METHOD_TRUSTED_DEVICE) {
      offered.insert(m);
    }
  }
  Check(evaluation->score == score);
  Check(evaluation->required_level == scored.required_level());
  Check(evaluation->satisfied == (score >= scored.required_level()));
  Check(evaluation->offered.size() == offered.size());
  for (const auto& mp : evaluation->offered) {
    Check(offered.count(mp.method()) == 1 && mp.points() == pol::PointsFor(scored, mp.method()));
  }
  return 0;
}
