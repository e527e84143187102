#include "services/policy/policy_manager.h"

#include <map>
#include <string>
#include <vector>

#include "common/status/error_details.h"
#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/testing/fake_policy_store.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_RECOVERY_CODE;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::tally::common::v1::AUTH_METHOD_TOTP;
using ::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Caller UserCaller(std::string directory, std::string user, std::vector<std::string> roles) {
  return Caller::User(testing::TestClaims({.directory_id = std::move(directory),
                                           .user_id = std::move(user),
                                           .roles = std::move(roles),
                                           .session_id = "sid_1"},
                                          absl::Now()));
}

void AddPoints(pb::UpdateAuthSettingsRequest& request, AuthMethod method, int points) {
  MethodPoints* mp = request.mutable_settings()->add_method_points();
  mp->set_method(method);
  mp->set_points(points);
}

std::vector<std::string> Codes(const AuthSettings& settings) {
  return {settings.sms_allowed_country_codes().begin(), settings.sms_allowed_country_codes().end()};
}

class PolicyManagerTest : public ::testing::Test {
 protected:
  std::string CreateDirectory(pb::Tier tier = pb::TIER_FREEMIUM) {
    pb::CreateDirectoryRequest request;
    request.set_display_name("Acme");
    request.set_tier(tier);
    auto response = manager_.CreateDirectory(Caller::Platform(), request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response->directory().directory_id();
  }

  pb::UpdateAuthSettingsRequest UpdateRequest(const std::string& dir, int required, int password,
                                              int sms, int email, int passkey) {
    pb::UpdateAuthSettingsRequest request;
    AuthSettings* s = request.mutable_settings();
    s->set_directory_id(dir);
    s->set_required_level(required);
    const std::pair<AuthMethod, int> points[] = {{AUTH_METHOD_PASSWORD, password},
                                                 {AUTH_METHOD_SMS_OTP, sms},
                                                 {AUTH_METHOD_EMAIL_OTP, email},
                                                 {AUTH_METHOD_PASSKEY, passkey}};
    for (auto [method, p] : points) {
      MethodPoints* mp = s->add_method_points();
      mp->set_method(method);
      mp->set_points(p);
    }
    return request;
  }

  FakePolicyStore store_;
  testing::FakeClock clock_;
  PolicyManager manager_{store_, clock_, CsprngRandom::Get()};
};

TEST_F(PolicyManagerTest, CreateDirectoryAppliesTierDefaultsAndAudits) {
  const std::string dir = CreateDirectory(pb::TIER_PROFESSIONAL);
  EXPECT_THAT(dir, ::testing::StartsWith("dir_"));
  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  auto settings = manager_.GetAuthSettings(Caller::Anonymous(), get);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->settings().required_level(), 20);
  EXPECT_EQ(PointsFor(settings->settings(), AUTH_METHOD_SMS_OTP), 0);
  EXPECT_EQ(PointsFor(settings->settings(), AUTH_METHOD_PASSKEY), 30);
  EXPECT_FALSE(settings->settings().etag().empty());
  EXPECT_EQ(settings->settings().updated_by(), "platform");
  ASSERT_EQ(store_.audit_.size(), 1u);
  EXPECT_EQ(store_.audit_[0].actor(), "platform");
  EXPECT_FALSE(store_.audit_[0].has_before());
  EXPECT_EQ(store_.audit_[0].after().required_level(), 20);
  EXPECT_EQ(FromProtoTime(store_.audit_[0].time()), clock_.Now());
}

TEST_F(PolicyManagerTest, CreateDirectoryNeedsThePlatform) {
  pb::CreateDirectoryRequest request;
  request.set_display_name("Acme");
  request.set_tier(pb::TIER_FREEMIUM);
  EXPECT_EQ(manager_.CreateDirectory(Caller::Anonymous(), request).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager_.CreateDirectory(UserCaller("dir_x", "u1", {"admin"}), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(store_.directories_.empty());
}

TEST_F(PolicyManagerTest, CreateDirectoryRejectsBadInputWithoutWriting) {
  const std::pair<std::string, int> cases[] = {
      {"", pb::TIER_FREEMIUM},
      {"   ", pb::TIER_FREEMIUM},
      {std::string(201, 'a'), pb::TIER_FREEMIUM},
      {"bad \xFF utf8", pb::TIER_FREEMIUM},
      {"tab\there", pb::TIER_FREEMIUM},
      {"Acme", pb::TIER_UNSPECIFIED},
      {"Acme", 99},
  };
  for (const auto& [name, tier] : cases) {
    pb::CreateDirectoryRequest request;
    request.set_display_name(name);
    request.set_tier(static_cast<pb::Tier>(tier));
    auto result = manager_.CreateDirectory(Caller::Platform(), request);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << name << " " << tier;
  }
  EXPECT_TRUE(store_.directories_.empty());
  EXPECT_TRUE(store_.audit_.empty());
}

TEST_F(PolicyManagerTest, AdminUpdatesSettingsAndTheAuditHoldsBeforeAndAfter) {
  const std::string dir = CreateDirectory(pb::TIER_PROFESSIONAL);
  clock_.Advance(absl::Hours(1));
  auto updated = manager_.UpdateAuthSettings(UserCaller(dir, "usr_admin", {"admin"}),
                                             UpdateRequest(dir, 30, 20, 10, 10, 30));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->settings().required_level(), 30);
  EXPECT_EQ(updated->settings().updated_by(), "user:usr_admin");
  EXPECT_EQ(FromProtoTime(updated->settings().update_time()), clock_.Now());

  pb::ListAuditEventsRequest list;
  list.set_directory_id(dir);
  auto audit = manager_.ListAuditEvents(UserCaller(dir, "usr_admin", {"admin"}), list);
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->events_size(), 2);
  const pb::AuditEvent& newest = audit->events(0);
  EXPECT_EQ(newest.actor(), "user:usr_admin");
  EXPECT_EQ(newest.before().required_level(), 20);
  EXPECT_EQ(PointsFor(newest.before(), AUTH_METHOD_SMS_OTP), 0);
  EXPECT_EQ(newest.after().required_level(), 30);
  EXPECT_EQ(PointsFor(newest.after(), AUTH_METHOD_SMS_OTP), 10);
  EXPECT_NE(newest.before().etag(), newest.after().etag());
}

TEST_F(PolicyManagerTest, StaleEtagIsAbortedAndEmptyEtagOverwrites) {
  const std::string dir = CreateDirectory();
  const std::string first_etag = store_.settings_[dir].etag();
  auto request = UpdateRequest(dir, 25, 20, 5, 5, 0);
  request.set_etag(first_etag);
  ASSERT_TRUE(manager_.UpdateAuthSettings(Caller::Platform(), request).ok());
  // A second writer still holding the first etag loses.
  auto stale = UpdateRequest(dir, 30, 20, 10, 10, 30);
  stale.set_etag(first_etag);
  auto result = manager_.UpdateAuthSettings(Caller::Platform(), stale);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_.settings_[dir].required_level(), 25);
  stale.clear_etag();
  EXPECT_TRUE(manager_.UpdateAuthSettings(Caller::Platform(), stale).ok());
  EXPECT_EQ(store_.settings_[dir].required_level(), 30);
}

TEST_F(PolicyManagerTest, WhoMayUpdate) {
  const std::string dir = CreateDirectory();
  const std::string other = CreateDirectory();
  const auto request = UpdateRequest(dir, 30, 20, 10, 10, 30);
  EXPECT_EQ(manager_.UpdateAuthSettings(Caller::Anonymous(), request).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager_.UpdateAuthSettings(UserCaller(other, "u2", {"admin"}), request)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_.UpdateAuthSettings(UserCaller(dir, "u3", {"user"}), request).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(manager_.UpdateAuthSettings(Caller::Platform(), request).ok());
  EXPECT_TRUE(manager_.UpdateAuthSettings(UserCaller(dir, "u4", {"user", "admin"}), request).ok());

  pb::ListAuditEventsRequest list;
  list.set_directory_id(dir);
  EXPECT_EQ(manager_.ListAuditEvents(Caller::Anonymous(), list).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager_.ListAuditEvents(UserCaller(other, "u2", {"admin"}), list).status().code(),
            absl::StatusCode::kPermissionDenied);
  pb::ListDirectoriesRequest dirs;
  EXPECT_EQ(manager_.ListDirectories(Caller::Anonymous(), dirs).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(manager_.ListDirectories(UserCaller(dir, "u4", {"admin"}), dirs).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(PolicyManagerTest, UnsatisfiableOrMalformedSettingsChangeNothing) {
  const std::string dir = CreateDirectory();
  const AuthSettings before = store_.settings_[dir];
  EXPECT_EQ(manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 80, 20, 10, 10, 30))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 30, -20, 10, 10, 30))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 1001, 1000, 1000, 0, 0))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  auto twice = UpdateRequest(dir, 30, 20, 10, 10, 30);
  *twice.mutable_settings()->add_method_points() = twice.settings().method_points(0);
  auto result = manager_.UpdateAuthSettings(Caller::Platform(), twice);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("twice"));
  EXPECT_EQ(manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest("", 30, 20, 10, 10, 30))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_
                .UpdateAuthSettings(Caller::Platform(),
                                    UpdateRequest("dir_unknown", 30, 20, 10, 10, 30))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.settings_[dir].etag(), before.etag());
  EXPECT_EQ(store_.audit_.size(), 1u);
}

TEST_F(PolicyManagerTest, SettingsChangesApplyToTheNextEvaluation) {
  const std::string dir = CreateDirectory();
  pb::EvaluateRequest evaluate;
  evaluate.set_directory_id(dir);
  evaluate.add_completed_methods(AUTH_METHOD_PASSWORD);
  auto before = manager_.Evaluate(Caller::Anonymous(), evaluate);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->score(), 20);
  EXPECT_FALSE(before->satisfied());
  // SMS, e-mail, passkey, TOTP and recovery code (the Freemium defaults; never the device).
  EXPECT_EQ(before->offered_methods_size(), 5);

  ASSERT_TRUE(
      manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 20, 20, 0, 0, 30)).ok());
  auto after = manager_.Evaluate(Caller::Anonymous(), evaluate);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->satisfied());
  ASSERT_EQ(after->offered_methods_size(), 1);
  EXPECT_EQ(after->offered_methods(0).method(), AUTH_METHOD_PASSKEY);
  EXPECT_EQ(after->offered_methods(0).points(), 30);
}

TEST_F(PolicyManagerTest, EvaluateValidatesInput) {
  const std::string dir = CreateDirectory();
  pb::EvaluateRequest evaluate;
  evaluate.set_directory_id(dir);
  evaluate.add_completed_methods(static_cast<AuthMethod>(42));
  EXPECT_EQ(manager_.Evaluate(Caller::Anonymous(), evaluate).status().code(),
            absl::StatusCode::kInvalidArgument);
  evaluate.set_directory_id("dir with spaces");
  EXPECT_EQ(manager_.Evaluate(Caller::Anonymous(), evaluate).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::EvaluateRequest unknown;
  unknown.set_directory_id("dir_nope");
  EXPECT_EQ(manager_.Evaluate(Caller::Anonymous(), unknown).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PolicyManagerTest, ListDirectoriesPages) {
  for (int i = 0; i < 5; ++i) CreateDirectory();
  pb::ListDirectoriesRequest request;
  request.set_page_size(2);
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = manager_.ListDirectories(Caller::Platform(), request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& d : page->directories()) seen.push_back(d.directory_id());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen.size(), 5u);
  request.set_page_token("not-a-token");
  EXPECT_EQ(manager_.ListDirectories(Caller::Platform(), request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_page_token("");
  request.set_page_size(-1);
  EXPECT_EQ(manager_.ListDirectories(Caller::Platform(), request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PolicyManagerTest, StoreOutageIsUnavailable) {
  const std::string dir = CreateDirectory();
  store_.status_ = absl::UnavailableError("postgres unavailable");
  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  EXPECT_EQ(manager_.GetAuthSettings(Caller::Anonymous(), get).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 30, 20, 10, 10, 30))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(PolicyManagerTest, GetDirectoryForItsOwnAdmins) {
  const std::string dir = CreateDirectory(pb::TIER_EXPLORER);
  const std::string other = CreateDirectory();
  pb::GetDirectoryRequest get;
  get.set_directory_id(dir);
  for (const Caller& allowed :
       {Caller::Platform(), Caller::Anonymous(), UserCaller(dir, "usr_admin", {"admin"})}) {
    auto got = manager_.GetDirectory(allowed, get);
    ASSERT_TRUE(got.ok()) << allowed.Actor() << ": " << got.status();
    EXPECT_EQ(got->directory().tier(), pb::TIER_EXPLORER);
  }
  EXPECT_EQ(manager_.GetDirectory(UserCaller(other, "usr_boss", {"admin"}), get).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manager_.GetDirectory(UserCaller(dir, "usr_alice", {"user"}), get).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Another directory's admin learns nothing, not even whether a directory exists.
  get.set_directory_id("dir_unknown");
  EXPECT_EQ(manager_.GetDirectory(UserCaller(other, "usr_boss", {"admin"}), get).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// API.md: "cluster, directory admin". A token of directory A never reads directory B's
// points (what a login of B needs, the trusted device's age), and a plain user of A not even A's.
TEST_F(PolicyManagerTest, GetAuthSettingsOnlyForItsOwnAdmins) {
  const std::string dir = CreateDirectory();
  const std::string other = CreateDirectory();
  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  for (const Caller& allowed :
       {Caller::Platform(), Caller::Anonymous(), UserCaller(dir, "usr_admin", {"admin"})}) {
    auto got = manager_.GetAuthSettings(allowed, get);
    ASSERT_TRUE(got.ok()) << allowed.Actor() << ": " << got.status();
    EXPECT_EQ(got->settings().directory_id(), dir);
  }
  const Caller their_admin = UserCaller(other, "usr_boss", {"admin"});
  const Caller their_user = UserCaller(other, "usr_mallory", {"user"});
  for (const Caller& refused : {their_admin, their_user, UserCaller(dir, "usr_alice", {"user"}),
                                UserCaller(dir, "usr_alice", {})}) {
    EXPECT_EQ(manager_.GetAuthSettings(refused, get).status().code(),
              absl::StatusCode::kPermissionDenied)
        << refused.Actor();
  }
  // A plain user of a directory does not read its own directory's settings either.
  get.set_directory_id(other);
  EXPECT_EQ(manager_.GetAuthSettings(their_user, get).status().code(),
            absl::StatusCode::kPermissionDenied);

  // No existence oracle: another directory's token gets the very same answer for a directory
  // that exists and one that does not, and the same as GetDirectory gives it.
  for (const Caller& stranger : {their_admin, their_user}) {
    get.set_directory_id(dir);
    const absl::Status existing = manager_.GetAuthSettings(stranger, get).status();
    get.set_directory_id("dir_unknown");
    const absl::Status unknown = manager_.GetAuthSettings(stranger, get).status();
    EXPECT_EQ(existing.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(unknown, existing) << stranger.Actor();
    pb::GetDirectoryRequest directory;
    directory.set_directory_id(dir);
    EXPECT_EQ(manager_.GetDirectory(stranger, directory).status(), existing);
  }
}

TEST_F(PolicyManagerTest, GetAuthSettingsShowsTheTierDefaults) {
  const std::string dir = CreateDirectory(pb::TIER_PROFESSIONAL);
  ASSERT_TRUE(
      manager_.UpdateAuthSettings(Caller::Platform(), UpdateRequest(dir, 30, 20, 10, 10, 30)).ok());
  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  auto got = manager_.GetAuthSettings(UserCaller(dir, "usr_admin", {"admin"}), get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->settings().required_level(), 30);
  const AuthSettings& defaults = got->tier_defaults();
  EXPECT_EQ(defaults.required_level(), 20);
  EXPECT_EQ(PointsFor(defaults, AUTH_METHOD_SMS_OTP), 0);
  EXPECT_EQ(PointsFor(defaults, AUTH_METHOD_PASSKEY), 30);
  EXPECT_EQ(PointsFor(defaults, AUTH_METHOD_TRUSTED_DEVICE), 0);
  EXPECT_EQ(defaults.method_points_size(), 7);
  EXPECT_TRUE(defaults.etag().empty());

  get.set_directory_id(CreateDirectory(pb::TIER_FREEMIUM));
  got = manager_.GetAuthSettings(Caller::Anonymous(), get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tier_defaults().required_level(), 30);
  EXPECT_EQ(PointsFor(got->tier_defaults(), AUTH_METHOD_TOTP), 10);
  EXPECT_EQ(PointsFor(got->tier_defaults(), AUTH_METHOD_RECOVERY_CODE), 10);
  EXPECT_EQ(PointsFor(got->tier_defaults(), AUTH_METHOD_TRUSTED_DEVICE), 10);
}

TEST_F(PolicyManagerTest, NewFieldsAreStoredAuditedAndReplacedAsAWhole) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  auto request = UpdateRequest(dir, 30, 20, 10, 10, 30);
  AddPoints(request, AUTH_METHOD_TOTP, 15);
  AddPoints(request, AUTH_METHOD_RECOVERY_CODE, 5);
  AddPoints(request, AUTH_METHOD_TRUSTED_DEVICE, 10);
  request.mutable_settings()->mutable_trusted_device_max_age()->set_seconds(7 * 24 * 3600);
  request.mutable_settings()->add_sms_allowed_country_codes("31");
  request.mutable_settings()->add_sms_allowed_country_codes("32");
  auto updated = manager_.UpdateAuthSettings(UserCaller(dir, "usr_admin", {"admin"}), request);
  ASSERT_TRUE(updated.ok()) << updated.status();

  pb::GetAuthSettingsRequest get;
  get.set_directory_id(dir);
  auto got = manager_.GetAuthSettings(Caller::Anonymous(), get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(PointsFor(got->settings(), AUTH_METHOD_TOTP), 15);
  EXPECT_EQ(PointsFor(got->settings(), AUTH_METHOD_RECOVERY_CODE), 5);
  EXPECT_EQ(PointsFor(got->settings(), AUTH_METHOD_TRUSTED_DEVICE), 10);
  EXPECT_EQ(got->settings().trusted_device_max_age().seconds(), 7 * 24 * 3600);
  EXPECT_THAT(Codes(got->settings()), ElementsAre("31", "32"));
  const pb::AuditEvent& changed = store_.audit_.back();
  EXPECT_EQ(changed.after().trusted_device_max_age().seconds(), 7 * 24 * 3600);
  EXPECT_THAT(Codes(changed.after()), ElementsAre("31", "32"));
  EXPECT_EQ(PointsFor(changed.after(), AUTH_METHOD_TOTP), 15);
  EXPECT_EQ(PointsFor(changed.before(), AUTH_METHOD_TOTP), 10);  // the Freemium default
  EXPECT_TRUE(changed.before().sms_allowed_country_codes().empty());

  // Replace semantics: what the next update leaves out is reset (countries: every one again;
  // the device age: its default; methods: off).
  auto next = UpdateRequest(dir, 30, 20, 10, 10, 30);
  next.set_etag(got->settings().etag());
  ASSERT_TRUE(manager_.UpdateAuthSettings(Caller::Platform(), next).ok());
  got = manager_.GetAuthSettings(Caller::Anonymous(), get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->settings().sms_allowed_country_codes().empty());
  EXPECT_EQ(got->settings().trusted_device_max_age().seconds(), 30 * 24 * 3600);
  EXPECT_EQ(PointsFor(got->settings(), AUTH_METHOD_TOTP), 0);
  EXPECT_THAT(Codes(store_.audit_.back().before()), ElementsAre("31", "32"));
}

TEST_F(PolicyManagerTest, EachRuleRefusesWithItsReasonAndChangesNothing) {
  const std::string dir = CreateDirectory();
  const AuthSettings before = store_.settings_[dir];
  auto new_user_locked_out = UpdateRequest(dir, 30, 20, 0, 0, 30);
  AddPoints(new_user_locked_out, AUTH_METHOD_TOTP, 10);
  auto device_alone = UpdateRequest(dir, 20, 20, 10, 10, 30);
  AddPoints(device_alone, AUTH_METHOD_TRUSTED_DEVICE, 20);
  auto too_old = UpdateRequest(dir, 30, 20, 10, 10, 30);
  too_old.mutable_settings()->mutable_trusted_device_max_age()->set_seconds(401 * 24 * 3600);
  auto bad_country = UpdateRequest(dir, 30, 20, 10, 10, 30);
  bad_country.mutable_settings()->add_sms_allowed_country_codes("0031");
  const std::pair<pb::UpdateAuthSettingsRequest, std::string> cases[] = {
      {UpdateRequest(dir, 80, 20, 10, 10, 30), "SETTINGS_UNSATISFIABLE"},
      {new_user_locked_out, "SETTINGS_NEW_USER_LOCKED_OUT"},
      {device_alone, "SETTINGS_DEVICE_ALONE"},
      {too_old, ""},
      {bad_country, ""},
  };
  for (const auto& [request, reason] : cases) {
    const absl::Status status = manager_.UpdateAuthSettings(Caller::Platform(), request).status();
    EXPECT_EQ(status.code(), reason.empty() ? absl::StatusCode::kInvalidArgument
                                            : absl::StatusCode::kFailedPrecondition)
        << status;
    EXPECT_EQ(ErrorReason(status), reason) << status;
  }
  EXPECT_EQ(store_.settings_[dir].etag(), before.etag());
  EXPECT_EQ(store_.audit_.size(), 1u);
}

TEST_F(PolicyManagerTest, EvaluateOffersEnabledNewMethodsButNeverTheDevice) {
  const std::string dir = CreateDirectory(pb::TIER_FREEMIUM);
  pb::EvaluateRequest evaluate;
  evaluate.set_directory_id(dir);
  evaluate.add_completed_methods(AUTH_METHOD_TRUSTED_DEVICE);
  auto alone = manager_.Evaluate(Caller::Anonymous(), evaluate);
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(alone->score(), 0);  // rule 9: not without a password or passkey
  std::vector<AuthMethod> offered;
  for (const auto& mp : alone->offered_methods()) offered.push_back(mp.method());
  EXPECT_THAT(offered, ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_SMS_OTP,
                                   AUTH_METHOD_EMAIL_OTP, AUTH_METHOD_PASSKEY, AUTH_METHOD_TOTP,
                                   AUTH_METHOD_RECOVERY_CODE));
  evaluate.add_completed_methods(AUTH_METHOD_PASSWORD);
  auto with_password = manager_.Evaluate(Caller::Anonymous(), evaluate);
  ASSERT_TRUE(with_password.ok()) << with_password.status();
  EXPECT_EQ(with_password->score(), 30);
  EXPECT_TRUE(with_password->satisfied());

  pb::EvaluateRequest opt_in;
  opt_in.set_directory_id(CreateDirectory(pb::TIER_ENTERPRISE));
  opt_in.add_completed_methods(AUTH_METHOD_TOTP);
  auto off = manager_.Evaluate(Caller::Anonymous(), opt_in);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->score(), 0);
  offered.clear();
  for (const auto& mp : off->offered_methods()) offered.push_back(mp.method());
  EXPECT_THAT(offered, ElementsAre(AUTH_METHOD_PASSWORD, AUTH_METHOD_PASSKEY));
}

}  // namespace
}  // namespace tally::policy
