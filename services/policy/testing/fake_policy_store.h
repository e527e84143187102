#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "services/policy/points.h"
#include "services/policy/policy_store.h"

namespace tally::policy {

// Test-only: an in-memory PolicyStore with the same etag and audit semantics as the PostgreSQL
// one, its contents open to the unit tests (PolicyManager's, SettingsGauges').
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
  absl::StatusOr<DirectorySettings> GetSettings(absl::string_view id) override {
    if (!status_.ok()) return status_;
    auto it = settings_.find(std::string(id));
    if (it == settings_.end()) return absl::NotFoundError("no such directory");
    absl::StatusOr<Directory> directory = GetDirectory(id);
    if (!directory.ok()) return directory.status();
    return DirectorySettings{it->second, directory->tier()};
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
  absl::StatusOr<SmsUnrestrictedCounts> CountSmsUnrestricted() override {
    if (!status_.ok()) return status_;
    SmsUnrestrictedCounts counts;
    for (const auto& [id, settings] : settings_) {
      if (!settings.sms_allowed_country_codes().empty()) continue;
      const bool sms = PointsFor(settings, ::tally::common::v1::AUTH_METHOD_SMS_OTP) > 0;
      ++(sms ? counts.sms_enabled : counts.sms_disabled);
    }
    return counts;
  }
  absl::Status Ping() override { return status_; }

  absl::Status status_ = absl::OkStatus();
  std::vector<Directory> directories_;
  std::map<std::string, AuthSettings> settings_;
  std::vector<AuditEvent> audit_;
};

}  // namespace tally::policy
