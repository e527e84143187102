#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/util/paging.h"
#include "tally/policy/v1/policy.pb.h"

namespace tally::policy {

using ::tally::policy::v1::AuditEvent;
using ::tally::policy::v1::AuthSettings;
using ::tally::policy::v1::Directory;
using ::tally::policy::v1::Tier;

// A directory's current settings with its tier (whose defaults GetAuthSettings shows beside
// them), read together in one step.
struct DirectorySettings {
  AuthSettings settings;
  Tier tier = ::tally::policy::v1::TIER_UNSPECIFIED;
};

// Directories whose settings let SMS go to every country (sms_allowed_country_codes empty),
// split by whether SMS codes are enabled (SMS_OTP points > 0).
struct SmsUnrestrictedCounts {
  int64_t sms_enabled = 0;
  int64_t sms_disabled = 0;
};

// Where directories, their settings and the audit trail live. Every method is one atomic step;
// store failures are UNAVAILABLE.
class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // Creates the directory, its first settings and the audit event that records them, together.
  virtual absl::Status CreateDirectory(const Directory& directory, const AuthSettings& settings,
                                       const AuditEvent& event) = 0;
  // NOT_FOUND when there is no such directory.
  virtual absl::StatusOr<Directory> GetDirectory(absl::string_view directory_id) = 0;
  // In creation order, starting after `cursor` (0: from the beginning).
  virtual absl::StatusOr<Page<Directory>> ListDirectories(int64_t cursor, int limit) = 0;

  // NOT_FOUND when there is no such directory.
  virtual absl::StatusOr<DirectorySettings> GetSettings(absl::string_view directory_id) = 0;
  // Replaces the settings of `next.directory_id()` when its current etag equals
  // `expected_etag` (any etag when empty), recording `event` with the settings before and after.
  // ABORTED when the etag is stale, NOT_FOUND when the directory is unknown.
  virtual absl::StatusOr<AuthSettings> UpdateSettings(const AuthSettings& next,
                                                      absl::string_view expected_etag,
                                                      AuditEvent event) = 0;

  // Newest first, starting after `cursor` (0: from the newest).
  virtual absl::StatusOr<Page<AuditEvent>> ListAuditEvents(absl::string_view directory_id,
                                                           int64_t cursor, int limit) = 0;

  // Across all directories, for the tally_policy_sms_countries_unrestricted gauge.
  virtual absl::StatusOr<SmsUnrestrictedCounts> CountSmsUnrestricted() = 0;

  virtual absl::Status Ping() = 0;
};

}  // namespace tally::policy
