#include "services/policy/points.h"

#include <string>
#include <utility>
#include <vector>

#include "common/status/error_details.h"
#include "gtest/gtest.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TOTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;
using ::tally::common::v1::AUTH_METHOD_UNSPECIFIED;

constexpr AuthMethod kPwd = AUTH_METHOD_PASSWORD;
constexpr AuthMethod kSms = AUTH_METHOD_SMS_OTP;
constexpr AuthMethod kEmail = AUTH_METHOD_EMAIL_OTP;
constexpr AuthMethod kPasskey = AUTH_METHOD_PASSKEY;
constexpr AuthMethod kTotp = AUTH_METHOD_TOTP;
constexpr AuthMethod kRecovery = AUTH_METHOD_RECOVERY_CODE;
constexpr AuthMethod kDevice = AUTH_METHOD_TRUSTED_DEVICE;

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

// Every method, in KnownMethods() order.
struct AllPoints {
  int required, password, sms, email, passkey, totp, recovery, device;
};

AuthSettings Settings(const AllPoints& p) {
  AuthSettings s = Settings(p.required, p.password, p.sms, p.email, p.passkey);
  const std::pair<AuthMethod, int> more[] = {
      {kTotp, p.totp}, {kRecovery, p.recovery}, {kDevice, p.device}};
  for (auto [method, points] : more) {
    MethodPoints* mp = s.add_method_points();
    mp->set_method(method);
    mp->set_points(points);
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

// The Freemium defaults with the methods of API.md "v1 additions".
const AuthSettings kFreemium = Settings({30, 20, 10, 10, 30, 10, 10, 10});

INSTANTIATE_TEST_SUITE_P(
    NewMethods, EvaluateTest,
    ::testing::Values(
        // A remembered device is presented with StartLogin, never offered as a step.
        EvaluateCase{"device_never_offered", kFreemium, {}, 0, false,
                     {kPwd, kSms, kEmail, kPasskey, kTotp, kRecovery}},
        EvaluateCase{"password_and_device", kFreemium, {kPwd, kDevice}, 30, true,
                     {kSms, kEmail, kPasskey, kTotp, kRecovery}},
        EvaluateCase{"passkey_and_device", kFreemium, {kPasskey, kDevice}, 40, true,
                     {kPwd, kSms, kEmail, kTotp, kRecovery}},
        // Rule 9: without a password or a passkey the device adds nothing.
        EvaluateCase{"device_alone_counts_nothing", kFreemium, {kDevice}, 0, false,
                     {kPwd, kSms, kEmail, kPasskey, kTotp, kRecovery}},
        EvaluateCase{"device_with_codes_only", kFreemium, {kDevice, kSms, kEmail, kTotp}, 30,
                     true, {kPwd, kPasskey, kRecovery}},
        EvaluateCase{"password_and_totp", kFreemium, {kPwd, kTotp}, 30, true,
                     {kSms, kEmail, kPasskey, kRecovery}},
        EvaluateCase{"password_and_recovery_code", kFreemium, {kPwd, kRecovery}, 30, true,
                     {kSms, kEmail, kPasskey, kTotp}},
        // A disabled password does not carry the device either.
        EvaluateCase{"device_beside_a_disabled_password",
                     Settings({20, 0, 10, 10, 30, 0, 0, 10}), {kPwd, kDevice, kSms}, 10, false,
                     {kEmail, kPasskey}},
        EvaluateCase{"opt_in_new_methods_off", Settings({20, 20, 0, 0, 30, 0, 0, 0}),
                     {kTotp, kRecovery, kDevice}, 0, false, {kPwd, kPasskey}}),
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
    int required, password, sms, email, passkey, totp, recovery, device;
  };
  const Row rows[] = {
      {::tally::policy::v1::TIER_FREEMIUM, 30, 20, 10, 10, 30, 10, 10, 10},
      {::tally::policy::v1::TIER_EXPLORER, 30, 20, 10, 10, 30, 10, 10, 10},
      {::tally::policy::v1::TIER_PROFESSIONAL, 20, 20, 0, 0, 30, 0, 0, 0},
      {::tally::policy::v1::TIER_ENTERPRISE, 20, 20, 0, 0, 30, 0, 0, 0},
  };
  for (const Row& row : rows) {
    auto settings = DefaultSettingsForTier(row.tier);
    ASSERT_TRUE(settings.ok());
    EXPECT_EQ(settings->required_level(), row.required);
    EXPECT_EQ(PointsFor(*settings, kPwd), row.password);
    EXPECT_EQ(PointsFor(*settings, kSms), row.sms);
    EXPECT_EQ(PointsFor(*settings, kEmail), row.email);
    EXPECT_EQ(PointsFor(*settings, kPasskey), row.passkey);
    EXPECT_EQ(PointsFor(*settings, kTotp), row.totp);
    EXPECT_EQ(PointsFor(*settings, kRecovery), row.recovery);
    EXPECT_EQ(PointsFor(*settings, kDevice), row.device);
    EXPECT_EQ(TrustedDeviceMaxAge(*settings), absl::Hours(24 * 30));
    EXPECT_TRUE(settings->sms_allowed_country_codes().empty());
    // Rules 4, 4b and 9 all pass, and the defaults are already in normal form.
    auto validated = ValidateSettings(*settings);
    ASSERT_TRUE(validated.ok()) << "defaults must be valid: " << validated.status();
    EXPECT_EQ(validated->SerializeAsString(), settings->SerializeAsString());
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
  ASSERT_EQ(normalised->method_points_size(), 7);
  EXPECT_EQ(normalised->method_points(0).method(), kPwd);
  EXPECT_EQ(normalised->method_points(1).points(), 5);
  EXPECT_EQ(normalised->method_points(2).points(), 0);  // not listed: disabled
  EXPECT_EQ(normalised->method_points(3).points(), 0);
  for (int i = 4; i < 7; ++i) EXPECT_EQ(normalised->method_points(i).points(), 0);
  EXPECT_EQ(normalised->method_points(6).method(), kDevice);
  // Unset: the default age, stored explicitly.
  EXPECT_EQ(normalised->trusted_device_max_age().seconds(), 30 * 24 * 3600);
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

// Rule 4's sum (MaxScore) counts a remembered device only beside an enabled password or
// passkey: it counts only alongside one of them (rule 9).
TEST(ValidateSettingsTest, Rule4CountsTheDeviceOnlyBesidePasswordOrPasskey) {
  // Without the device's 10 the enabled methods give 30 < 40: unsatisfiable.
  const AuthSettings no_anchor = Settings({40, 0, 10, 10, 0, 10, 0, 10});
  EXPECT_EQ(MaxScore(no_anchor), 30);
  const absl::Status refused = ValidateSettings(no_anchor).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(refused), "SETTINGS_UNSATISFIABLE") << refused;
  // With a password on, the device counts and 60 >= 40; new users have 20 + 10 + 10 = 40.
  const AuthSettings with_password = Settings({40, 20, 10, 10, 0, 10, 0, 10});
  EXPECT_EQ(MaxScore(with_password), 60);
  EXPECT_TRUE(ValidateSettings(with_password).ok()) << ValidateSettings(with_password).status();
  // A passkey anchors it too.
  EXPECT_EQ(MaxScore(Settings({40, 0, 10, 10, 30, 0, 0, 10})), 60);
  EXPECT_EQ(MaxScore(Settings({30, 20, 10, 10, 30, 10, 10, 10})), 100);
}

TEST(ValidateSettingsTest, Rule4bNewUsersMustReachTheLevel) {
  // TOTP as the only second factor: a new user has only the password's 20.
  const std::vector<AuthSettings> locked_out = {
      Settings({30, 20, 0, 0, 30, 10, 10, 0}),
      Settings({30, 0, 0, 0, 30, 0, 0, 0}),  // passkey only: registering one needs a login
      Settings({40, 20, 10, 0, 30, 10, 10, 0}),
  };
  for (const AuthSettings& settings : locked_out) {
    const absl::Status status = ValidateSettings(settings).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(ErrorReason(status), "SETTINGS_NEW_USER_LOCKED_OUT") << status;
    const auto violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << status;
    EXPECT_EQ(violations[0].field(), "settings.required_level");
  }
  // Keeping e-mail on as the way in is enough.
  EXPECT_TRUE(ValidateSettings(Settings({30, 20, 0, 10, 30, 10, 10, 0})).ok());
  // Rule 4 comes first: nobody at all could log in.
  EXPECT_EQ(ErrorReason(ValidateSettings(Settings({200, 20, 0, 0, 30, 10, 10, 0})).status()),
            "SETTINGS_UNSATISFIABLE");
}

TEST(ValidateSettingsTest, Rule9TheDeviceAloneNeverReachesTheLevel) {
  // The device is listed third in this request: the field names that entry.
  AuthSettings request;
  request.set_required_level(20);
  for (auto [method, points] :
       std::vector<std::pair<AuthMethod, int>>{{kPwd, 20}, {kSms, 10}, {kDevice, 20}}) {
    MethodPoints* mp = request.add_method_points();
    mp->set_method(method);
    mp->set_points(points);
  }
  const absl::Status status = ValidateSettings(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(status), "SETTINGS_DEVICE_ALONE") << status;
  const auto violations = FieldViolationsOf(status);
  ASSERT_EQ(violations.size(), 1u) << status;
  EXPECT_EQ(violations[0].field(), "settings.method_points[2].points");
  EXPECT_EQ(violations[0].description(), status.message());
  // Just below the level is fine: the device still needs something beside it.
  EXPECT_TRUE(ValidateSettings(Settings({20, 20, 10, 10, 30, 0, 0, 19})).ok());
  EXPECT_EQ(ErrorReason(ValidateSettings(Settings({20, 20, 10, 10, 30, 0, 0, 500})).status()),
            "SETTINGS_DEVICE_ALONE");
}

TEST(ValidateSettingsTest, MalformedSettingsNameTheFieldWithoutAReason) {
  const std::pair<AuthSettings, std::string> cases[] = {
      {Settings(30, -1, 10, 10, 30), "settings.method_points[0].points"},
      {Settings(30, 20, 10, 10, 1001), "settings.method_points[3].points"},
      {WithExtra(Settings(30, 20, 10, 10, 30), 0, 5), "settings.method_points[4].method"},
      {WithExtra(Settings(30, 20, 10, 10, 30), 2, 5), "settings.method_points[4].method"},
      {Settings(1001, 1000, 1000, 0, 0), "settings.required_level"},
  };
  for (const auto& [settings, field] : cases) {
    const absl::Status status = ValidateSettings(settings).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(ErrorReason(status), "") << field;
    const auto violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << status;
    EXPECT_EQ(violations[0].field(), field);
  }
}

TEST(TrustedDeviceMaxAgeTest, UnsetIsThirtyDaysAndAtMostFourHundred) {
  const AuthSettings base = Settings(30, 20, 10, 10, 30);
  EXPECT_EQ(TrustedDeviceMaxAge(base), absl::Hours(24 * 30));
  for (int64_t seconds : {int64_t{1}, int64_t{3600}, int64_t{400} * 24 * 3600}) {
    AuthSettings s = base;
    s.mutable_trusted_device_max_age()->set_seconds(seconds);
    auto validated = ValidateSettings(s);
    ASSERT_TRUE(validated.ok()) << seconds << " " << validated.status();
    EXPECT_EQ(validated->trusted_device_max_age().seconds(), seconds);
    EXPECT_EQ(TrustedDeviceMaxAge(*validated), absl::Seconds(seconds));
  }
  struct Bad {
    int64_t seconds;
    int32_t nanos;
  };
  for (const Bad& bad : {Bad{400 * 24 * 3600 + 1, 0}, Bad{0, 0}, Bad{-3600, 0}, Bad{10, 500}}) {
    AuthSettings s = base;
    s.mutable_trusted_device_max_age()->set_seconds(bad.seconds);
    s.mutable_trusted_device_max_age()->set_nanos(bad.nanos);
    const absl::Status status = ValidateSettings(s).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.seconds;
    const auto violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << status;
    EXPECT_EQ(violations[0].field(), "settings.trusted_device_max_age");
  }
}

TEST(SmsCountriesTest, AssignedCallingCodesAreKeptAsGiven) {
  AuthSettings s = Settings(30, 20, 10, 10, 30);
  for (const char* code : {"31", "1", "882", "44"}) s.add_sms_allowed_country_codes(code);
  auto validated = ValidateSettings(s);
  ASSERT_TRUE(validated.ok()) << validated.status();
  EXPECT_EQ(std::vector<std::string>(validated->sms_allowed_country_codes().begin(),
                                     validated->sms_allowed_country_codes().end()),
            (std::vector<std::string>{"31", "1", "882", "44"}));
}

TEST(SmsCountriesTest, RefusesWhatIsNotAnAssignedCode) {
  // Malformed, unassigned (28, 999, 2) and repeated codes; the message never quotes them.
  for (const char* code : {"", "0", "031", "+31", "1234", "3a", " 31", "28", "999", "2", "31"}) {
    AuthSettings s = Settings(30, 20, 10, 10, 30);
    s.add_sms_allowed_country_codes("31");
    s.add_sms_allowed_country_codes(code);
    const absl::Status status = ValidateSettings(s).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "'" << code << "'";
    EXPECT_EQ(ErrorReason(status), "");
    const auto violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << status;
    EXPECT_EQ(violations[0].field(), "settings.sms_allowed_country_codes[1]");
    if (std::string(code).size() > 1) {
      EXPECT_EQ(std::string(status.message()).find(code), std::string::npos) << status;
    }
  }
}

TEST(SmsCountriesTest, EmptyMeansEveryCountry) {
  AuthSettings s = Settings(30, 20, 10, 10, 30);
  EXPECT_TRUE(SmsAllowedTo(s, "+31612345678"));
  EXPECT_TRUE(SmsAllowedTo(s, "+12025550123"));
  s.add_sms_allowed_country_codes("31");
  s.add_sms_allowed_country_codes("1");
  EXPECT_TRUE(SmsAllowedTo(s, "+31612345678"));
  EXPECT_TRUE(SmsAllowedTo(s, "+12025550123"));
  EXPECT_FALSE(SmsAllowedTo(s, "+32470123456"));
  EXPECT_FALSE(SmsAllowedTo(s, "+3161234"));  // not E.164: no country to allow
  EXPECT_FALSE(SmsAllowedTo(s, "0612345678"));
}

}  // namespace
}  // namespace tally::policy
