#include "services/policy/policy_manager.h"

#include <map>
#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "common/testing/test_claims.h"
#include "common/util/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::policy {
namespace {

using ::tally::common::v1::AUTH_METHOD_EMAIL_OTP;
using ::tally::common::v1::AUTH_METHOD_PASSKEY;
using ::tally::common::v1::AUTH_METHOD_PASSWORD;
using ::tally::common::v1::AUTH_METHOD_SMS_OTP;
using ::testing::HasSubstr;

// In-memory PolicyStore with the same etag and audit semantics as the PostgreSQL one.
class FakePolicyStore : public PolicyStore {
 public:
  absl::Status CreateDirectory(const Directory& directory, const AuthSettings& settings,
                               const AuditEvent& event) override {
    if (!status_.ok()) return status_;
    directories_.push_back(directory);
    settings_[directory.directory_id()] = settings;
    audit_.push_back(event);
    return absl::OkStatus();
  }
  absl::StatusOr<Directory> GetDirectory(absl::string_view id) override {
    if (!status_.ok()) return status_;
    for (const Directory& d : directories_) {
      if (d.directory_id() == id) return d;
    }
    return absl::NotFoundError("no such directory");
  }
  absl::StatusOr<Page<Directory>> ListDirectories(int64_t cursor, int limit) override {
    if (!status_.ok()) return status_;
    Page<Directory> page;
    for (int64_t i = cursor; i < static_cast<int64_t>(directories_.size()); ++i) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_cursor = i;
        break;
      }
      page.items.push_back(directories_[i]);
    }
    return page;
  }
  absl::StatusOr<AuthSettings> GetSettings(absl::string_view id) override {
    if (!status_.ok()) return status_;
    auto it = settings_.find(std::string(id));
    if (it == settings_.end()) return absl::NotFoundError("no such directory");
    return it->second;
  }
  absl::StatusOr<AuthSettings> UpdateSettings(const AuthSettings& next,
                                              absl::string_view expected_etag,
                                              AuditEvent event) override {
    if (!status_.ok()) return status_;
    auto it = settings_.find(next.directory_id());
    if (it == settings_.end()) return absl::NotFoundError("no such directory");
    if (!expected_etag.empty() && it->second.etag() != expected_etag) {
      return absl::AbortedError("stale etag");
    }
    *event.mutable_before() = it->second;
    *event.mutable_after() = next;
    it->second = next;
    audit_.push_back(event);
    return next;
  }
  absl::StatusOr<Page<AuditEvent>> ListAuditEvents(absl::string_view id, int64_t cursor,
                                                   int limit) override {
    if (!status_.ok()) return status_;
    // Cursor: how many matching events (newest first) were already returned.
    std::vector<AuditEvent> matching;
    for (auto it = audit_.rbegin(); it != audit_.rend(); ++it) {
      if (it->directory_id() == id) matching.push_back(*it);
    }
    Page<AuditEvent> page;
    for (int64_t i = cursor; i < static_cast<int64_t>(matching.size()); ++i) {
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_cursor = i;
        break;
      }
      page.items.push_back(matching[i]);
    }
    return page;
  }
  absl::Status Ping() override { return status_; }

  absl::Status status_ = absl::OkStatus();
  std::vector<Directory> directories_;
  std::map<std::string, AuthSettings> settings_;
  std::vector<AuditEvent> audit_;
};

Caller UserCaller(std::string directory, std::string user, std::vector<std::string> roles) {
  return Caller::User(testing::TestClaims({.directory_id = std::move(directory),
                                           .user_id = std::move(user),
                                           .roles = std::move(roles),
                                           .session_id = "sid_1"},
                                          absl::Now()));
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
  EXPECT_EQ(before->offered_methods_size(), 3);

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

}  // namespace
}  // namespace tally::policy
