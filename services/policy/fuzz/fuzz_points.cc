// libFuzzer: the settings check of UpdateAuthSettings, the tier check of CreateDirectory and the
// scoring of Evaluate (services/policy/points.h), fed an UpdateAuthSettingsRequest parsed as
// protobuf takes it off the wire. Evaluate scores the methods the request lists (any numbers)
// against the settings as validated, or, when they are refused, against the defaults of the
// tier the required level picks, as the service only ever scores stored (validated) settings.
//
// Invariants: accepted settings list every known method once, in KnownMethods() order, with
// 0..kMaxPoints points, a required level of 1..kMaxPoints that the enabled methods can reach,
// and validate again to themselves; refusals are INVALID_ARGUMENT or FAILED_PRECONDITION;
// every tier either has defaults that validate or is refused; a score is the sum of the
// distinct completed enabled methods, satisfied exactly when it reaches the level, and the
// offered methods are the enabled ones not completed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "services/policy/points.h"
#include "tally/policy/v1/policy.pb.h"

namespace {

namespace pol = ::tally::policy;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckValid(const pol::AuthSettings& settings) {
  const auto& known = pol::KnownMethods();
  Check(settings.method_points_size() == static_cast<int>(known.size()));
  int sum = 0;
  for (size_t i = 0; i < known.size(); ++i) {
    const auto& mp = settings.method_points(static_cast<int>(i));
    Check(mp.method() == known[i] && mp.points() >= 0 && mp.points() <= pol::kMaxPoints);
    sum += mp.points();
  }
  Check(settings.required_level() >= 1 && settings.required_level() <= pol::kMaxPoints);
  Check(sum >= settings.required_level());
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
  } else {
    Check(valid.status().code() == absl::StatusCode::kInvalidArgument ||
          valid.status().code() == absl::StatusCode::kFailedPrecondition);
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
  // Known = weighed by the points model: methods of the contract without points rules yet
  // (KnownMethods() explains) are refused like unknown numbers.
  bool all_known = true;
  for (pol::AuthMethod m : completed) {
    all_known = all_known && std::find(pol::KnownMethods().begin(), pol::KnownMethods().end(),
                                       m) != pol::KnownMethods().end();
  }
  Check(evaluation.ok() == all_known);
  if (!evaluation.ok()) {
    Check(evaluation.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::set<pol::AuthMethod> done(completed.begin(), completed.end());
  int score = 0;
  std::set<pol::AuthMethod> offered;
  for (pol::AuthMethod m : pol::KnownMethods()) {
    const int points = pol::PointsFor(scored, m);
    if (points <= 0) continue;
    if (done.count(m)) {
      score += points;
    } else {
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
