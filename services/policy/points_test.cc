#include "services/policy/points.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/status/error_details.h"
#include "gtest/gtest.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_UNSPECIFIED;

constexpr AuthMethod kPwd = AUTH_METHOD_PASSWORD;
constexpr AuthMethod kSms = AUTH_METHOD_SMS_OTP;
constexpr AuthMethod kEmail = AUTH_METHOD_EMAIL_OTP;
constexpr AuthMethod kPasskey = AUTH_METHOD_PASSKEY;

AuthSettings Settings(int required, int password, int sms, int email, int passkey) {
  AuthSettings s;
  s.set_required_level(required);
  const std::pair<AuthMethod, int> points[] = {
      {kPwd, password}, {kSms, sms}, {kEmail, email}, {kPasskey, passkey}};
  for (auto [method, p] : points) {
    MethodPoints* mp = s.add_method_points();
    mp->set_method(method);
    mp->set_points(p);
  }
  return s;
}

struct EvaluateCase {
  std::string name;
  AuthSettings settings;
  std::vector<AuthMethod> completed;
  int score;
  bool satisfied;
  std::vector<AuthMethod> offered;
};

class EvaluateTest : public ::testing::TestWithParam<EvaluateCase> {};

TEST_P(EvaluateTest, ScoresAndOffers) {
  const EvaluateCase& c = GetParam();
  auto evaluation = Evaluate(c.settings, c.completed);
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_EQ(evaluation->score, c.score);
  EXPECT_EQ(evaluation->required_level, c.settings.required_level());
  EXPECT_EQ(evaluation->satisfied, c.satisfied);
  std::vector<AuthMethod> offered;
  for (const MethodPoints& mp : evaluation->offered) {
    offered.push_back(mp.method());
    EXPECT_EQ(mp.points(), PointsFor(c.settings, mp.method()));
  }
  EXPECT_EQ(offered, c.offered);
}

const AuthSettings kStandard = Settings(30, 20, 10, 10, 30);  // the product page's default
const AuthSettings kOptIn = Settings(20, 20, 0, 0, 30);       // professional / enterprise
const AuthSettings kShape25 = Settings(25, 20, 5, 5, 0);      // the 25 / 20 / 5 / 5 shape

INSTANTIATE_TEST_SUITE_P(
    ProductPage, EvaluateTest,
    ::testing::Values(
        EvaluateCase{"nothing_yet", kStandard, {}, 0, false, {kPwd, kSms, kEmail, kPasskey}},
        EvaluateCase{"password_alone_is_not_enough", kStandard, {kPwd}, 20, false,
                     {kSms, kEmail, kPasskey}},
        EvaluateCase{"password_and_sms", kStandard, {kPwd, kSms}, 30, true, {kEmail, kPasskey}},
        EvaluateCase{"password_and_email", kStandard, {kPwd, kEmail}, 30, true, {kSms, kPasskey}},
        EvaluateCase{"passkey_alone", kStandard, {kPasskey}, 30, true, {kPwd, kSms, kEmail}},
        EvaluateCase{"sms_and_email_is_20", kStandard, {kSms, kEmail}, 20, false,
                     {kPwd, kPasskey}},
        EvaluateCase{"a_method_counts_once", kStandard, {kSms, kSms, kSms}, 10, false,
                     {kPwd, kEmail, kPasskey}},
        EvaluateCase{"opt_in_password_alone", kOptIn, {kPwd}, 20, true, {kPasskey}},
        EvaluateCase{"zero_points_not_offered", kOptIn, {}, 0, false, {kPwd, kPasskey}},
        EvaluateCase{"disabled_method_adds_nothing", kOptIn, {kSms}, 0, false, {kPwd, kPasskey}},
        EvaluateCase{"shape_25_password_alone", kShape25, {kPwd}, 20, false, {kSms, kEmail}},
        EvaluateCase{"shape_25_password_and_sms", kShape25, {kPwd, kSms}, 25, true, {kEmail}},
        EvaluateCase{"shape_25_sms_and_email", kShape25, {kSms, kEmail}, 10, false, {kPwd}},
        EvaluateCase{"everything", kStandard, {kPasskey, kEmail, kSms, kPwd}, 70, true, {}}),
    [](const auto& info) { return info.param.name; });

TEST(EvaluateTest, RejectsUnspecifiedAndUnknownMethods) {
  EXPECT_EQ(Evaluate(kStandard, {AUTH_METHOD_UNSPECIFIED}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Evaluate(kStandard, {static_cast<AuthMethod>(99)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TierDefaultsTest, MatchTheDesign) {
  struct Row {
    Tier tier;
    int required, password, sms, email, passkey;
  };
  const Row rows[] = {
      {::tally::policy::v1::TIER_FREEMIUM, 30, 20, 10, 10, 30},
      {::tally::policy::v1::TIER_EXPLORER, 30, 20, 10, 10, 30},
      {::tally::policy::v1::TIER_PROFESSIONAL, 20, 20, 0, 0, 30},
      {::tally::policy::v1::TIER_ENTERPRISE, 20, 20, 0, 0, 30},
  };
  for (const Row& row : rows) {
    auto settings = DefaultSettingsForTier(row.tier);
    ASSERT_TRUE(settings.ok());
    EXPECT_EQ(settings->required_level(), row.required);
    EXPECT_EQ(PointsFor(*settings, kPwd), row.password);
    EXPECT_EQ(PointsFor(*settings, kSms), row.sms);
    EXPECT_EQ(PointsFor(*settings, kEmail), row.email);
    EXPECT_EQ(PointsFor(*settings, kPasskey), row.passkey);
    EXPECT_TRUE(ValidateSettings(*settings).ok()) << "defaults must be valid";
  }
  EXPECT_EQ(DefaultSettingsForTier(::tally::policy::v1::TIER_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DefaultSettingsForTier(static_cast<Tier>(42)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateSettingsTest, AcceptsValidShapesAndNormalises) {
  AuthSettings partial;
  partial.set_required_level(25);
  MethodPoints* sms = partial.add_method_points();
  sms->set_method(kSms);
  sms->set_points(5);
  MethodPoints* pwd = partial.add_method_points();
  pwd->set_method(kPwd);
  pwd->set_points(20);
  auto normalised = ValidateSettings(partial);
  ASSERT_TRUE(normalised.ok()) << normalised.status();
  ASSERT_EQ(normalised->method_points_size(), 4);
  EXPECT_EQ(normalised->method_points(0).method(), kPwd);
  EXPECT_EQ(normalised->method_points(1).points(), 5);
  EXPECT_EQ(normalised->method_points(2).points(), 0);  // not listed: disabled
  EXPECT_EQ(normalised->method_points(3).points(), 0);
  EXPECT_TRUE(ValidateSettings(Settings(1000, 1000, 0, 0, 0)).ok());
}

struct BadSettingsCase {
  std::string name;
  AuthSettings settings;
  absl::StatusCode code;
};

class BadSettingsTest : public ::testing::TestWithParam<BadSettingsCase> {};

TEST_P(BadSettingsTest, IsRejected) {
  const auto& c = GetParam();
  auto result = ValidateSettings(c.settings);
  EXPECT_EQ(result.status().code(), c.code) << result.status();
  EXPECT_FALSE(result.status().message().empty());
}

AuthSettings WithExtra(AuthSettings s, int method, int points) {
  MethodPoints* mp = s.add_method_points();
  mp->set_method(static_cast<AuthMethod>(method));
  mp->set_points(points);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadSettingsTest,
    ::testing::Values(
        BadSettingsCase{"negative_points", Settings(30, -1, 10, 10, 30),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"points_above_1000", Settings(30, 1001, 10, 10, 30),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"level_above_1000", Settings(1001, 1000, 1000, 0, 0),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"method_listed_twice", WithExtra(Settings(30, 20, 10, 10, 30), 1, 20),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"unspecified_method", WithExtra(Settings(30, 20, 10, 10, 30), 0, 5),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"unknown_method", WithExtra(Settings(30, 20, 10, 10, 30), 77, 5),
                        absl::StatusCode::kInvalidArgument},
        BadSettingsCase{"level_zero", Settings(0, 20, 10, 10, 30),
                        absl::StatusCode::kFailedPrecondition},
        BadSettingsCase{"level_negative", Settings(-5, 20, 10, 10, 30),
                        absl::StatusCode::kFailedPrecondition},
        BadSettingsCase{"unsatisfiable_sum", Settings(80, 20, 10, 10, 30),
                        absl::StatusCode::kFailedPrecondition},
        BadSettingsCase{"everything_disabled", Settings(10, 0, 0, 0, 0),
                        absl::StatusCode::kFailedPrecondition}),
    [](const auto& info) { return info.param.name; });

TEST(ValidateSettingsTest, UnsatisfiableSettingsCarryTheReasonAndTheField) {
  for (const AuthSettings& settings :
       {Settings(80, 20, 10, 10, 30), Settings(0, 20, 10, 10, 30), Settings(10, 0, 0, 0, 0)}) {
    const absl::Status status = ValidateSettings(settings).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(ErrorReason(status), "SETTINGS_UNSATISFIABLE");
    const auto violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << status;
    EXPECT_EQ(violations[0].field(), "settings.required_level");
  }
  EXPECT_EQ(ErrorReason(ValidateSettings(Settings(30, -1, 10, 10, 30)).status()), "");
}

TEST(ValidateSettingsTest, AdditionsWithoutRulesYetAreRefusedNotDropped) {
  // TOTP, RECOVERY_CODE and TRUSTED_DEVICE exist in the contract before their rules (4b, 9):
  // until then a directory cannot weigh them, and no evaluation counts them. Likewise the two
  // new settings fields.
  for (AuthMethod method : {::tally::common::v1::AUTH_METHOD_TOTP,
                            ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE,
                            ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE}) {
    const absl::Status settings =
        ValidateSettings(WithExtra(Settings(30, 20, 10, 10, 30), method, 10)).status();
    EXPECT_EQ(settings.code(), absl::StatusCode::kInvalidArgument) << method;
    EXPECT_EQ(Evaluate(Settings(30, 20, 10, 10, 30), {kPwd, method}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << method;
    EXPECT_EQ(std::count(KnownMethods().begin(), KnownMethods().end(), method), 0);
  }
  AuthSettings device_age = Settings(30, 20, 10, 10, 30);
  device_age.mutable_trusted_device_max_age()->set_seconds(86400);
  EXPECT_EQ(ValidateSettings(device_age).status().code(), absl::StatusCode::kInvalidArgument);
  AuthSettings countries = Settings(30, 20, 10, 10, 30);
  countries.add_sms_allowed_country_codes("31");
  EXPECT_EQ(ValidateSettings(countries).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tally::policy
