#include "services/policy/policy_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/paging.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/policy/request_checks.h"

namespace tally::policy {
namespace {

constexpr absl::string_view kDirectoryPages = "directories";
constexpr absl::string_view kAuditPages = "audit";

absl::Status CheckDirectoryId(const std::string& id) { return CheckId("directory_id", id); }

}  // namespace

PolicyManager::PolicyManager(PolicyStore& store, const Clock& clock, RandomSource& random)
    : store_(store), clock_(clock), random_(random) {}

std::string PolicyManager::NewEtag() { return NewId(random_, ""); }

absl::StatusOr<pb::CreateDirectoryResponse> PolicyManager::CreateDirectory(
    const Caller& caller, const pb::CreateDirectoryRequest& request) {
  if (absl::Status s = RequirePlatform(caller); !s.ok()) return s;
  absl::StatusOr<std::string> name = CheckDisplayName(request.display_name());
  if (!name.ok()) return name.status();
  absl::StatusOr<AuthSettings> settings = DefaultSettingsForTier(request.tier());
  if (!settings.ok()) return settings.status();

  const absl::Time now = clock_.Now();
  pb::Directory directory;
  directory.set_directory_id(NewId(random_, "dir_"));
  directory.set_display_name(*name);
  directory.set_tier(request.tier());
  *directory.mutable_create_time() = ToProtoTime(now);

  settings->set_directory_id(directory.directory_id());
  settings->set_etag(NewEtag());
  settings->set_updated_by(caller.Actor());
  *settings->mutable_update_time() = ToProtoTime(now);

  pb::AuditEvent event;
  event.set_event_id(NewId(random_, "evt_"));
  event.set_directory_id(directory.directory_id());
  event.set_actor(caller.Actor());
  *event.mutable_time() = ToProtoTime(now);
  *event.mutable_after() = *settings;

  if (absl::Status s = store_.CreateDirectory(directory, *settings, event); !s.ok()) return s;
  pb::CreateDirectoryResponse response;
  *response.mutable_directory() = std::move(directory);
  return response;
}

absl::StatusOr<pb::GetDirectoryResponse> PolicyManager::GetDirectory(
    const Caller& caller, const pb::GetDirectoryRequest& request) {
  // Platform and cluster read any directory; a session token only its own directory's, and
  // only an admin's (API.md: "platform, cluster, directory admin").
  if (absl::Status s = RequireAdminIfSessionToken(caller, request.directory_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDirectoryId(request.directory_id()); !s.ok()) return s;
  absl::StatusOr<pb::Directory> directory = store_.GetDirectory(request.directory_id());
  if (!directory.ok()) return directory.status();
  pb::GetDirectoryResponse response;
  *response.mutable_directory() = std::move(*directory);
  return response;
}

absl::StatusOr<pb::ListDirectoriesResponse> PolicyManager::ListDirectories(
    const Caller& caller, const pb::ListDirectoriesRequest& request) {
  if (absl::Status s = RequirePlatform(caller); !s.ok()) return s;
  absl::StatusOr<int> size = EffectivePageSize(request.page_size());
  if (!size.ok()) return size.status();
  absl::StatusOr<int64_t> cursor = DecodePageToken(kDirectoryPages, request.page_token());
  if (!cursor.ok()) return cursor.status();
  absl::StatusOr<Page<pb::Directory>> page = store_.ListDirectories(*cursor, *size);
  if (!page.ok()) return page.status();
  pb::ListDirectoriesResponse response;
  for (pb::Directory& d : page->items) *response.add_directories() = std::move(d);
  if (page->next_cursor != 0) {
    response.set_next_page_token(EncodePageToken(kDirectoryPages, page->next_cursor));
  }
  return response;
}

absl::StatusOr<pb::GetAuthSettingsResponse> PolicyManager::GetAuthSettings(
    const Caller& caller, const pb::GetAuthSettingsRequest& request) {
  // The rule of GetDirectory, and before the store: a token of another directory learns
  // nothing, not even whether the directory exists.
  if (absl::Status s = RequireAdminIfSessionToken(caller, request.directory_id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDirectoryId(request.directory_id()); !s.ok()) return s;
  absl::StatusOr<DirectorySettings> current = store_.GetSettings(request.directory_id());
  if (!current.ok()) return current.status();
  pb::GetAuthSettingsResponse response;
  *response.mutable_settings() = std::move(current->settings);
  // A tier this binary does not know (stored by a newer one) has no defaults to show; the
  // settings still serve logins.
  if (absl::StatusOr<AuthSettings> defaults = DefaultSettingsForTier(current->tier);
      defaults.ok()) {
    *response.mutable_tier_defaults() = *std::move(defaults);
  }
  return response;
}

absl::StatusOr<pb::UpdateAuthSettingsResponse> PolicyManager::UpdateAuthSettings(
    const Caller& caller, const pb::UpdateAuthSettingsRequest& request) {
  const std::string& directory_id = request.settings().directory_id();
  // Who asks comes before what is asked: a caller without rights learns nothing from errors.
  if (absl::Status s = RequireAdminOrPlatform(caller, directory_id); !s.ok()) return s;
  if (absl::Status s = CheckDirectoryId(directory_id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("settings.", s.message()));
  }
  if (absl::Status s = CheckEtag(request.etag()); !s.ok()) return s;
  absl::StatusOr<AuthSettings> next = ValidateSettings(request.settings());
  if (!next.ok()) return next.status();

  const absl::Time now = clock_.Now();
  next->set_etag(NewEtag());
  next->set_updated_by(caller.Actor());
  *next->mutable_update_time() = ToProtoTime(now);

  pb::AuditEvent event;
  event.set_event_id(NewId(random_, "evt_"));
  event.set_directory_id(directory_id);
  event.set_actor(caller.Actor());
  *event.mutable_time() = ToProtoTime(now);

  absl::StatusOr<AuthSettings> stored = store_.UpdateSettings(*next, request.etag(), event);
  if (!stored.ok()) return stored.status();
  pb::UpdateAuthSettingsResponse response;
  *response.mutable_settings() = std::move(*stored);
  return response;
}

absl::StatusOr<pb::EvaluateResponse> PolicyManager::Evaluate(const Caller& /*cluster*/,
                                                             const pb::EvaluateRequest& request) {
  if (absl::Status s = CheckDirectoryId(request.directory_id()); !s.ok()) return s;
  std::vector<AuthMethod> completed;
  completed.reserve(request.completed_methods_size());
  for (int method : request.completed_methods()) {
    completed.push_back(static_cast<AuthMethod>(method));
  }
  // Validate the input before touching the store, so a bad request costs nothing.
  absl::StatusOr<Evaluation> check = policy::Evaluate(AuthSettings(), completed);
  if (!check.ok()) return check.status();
  absl::StatusOr<DirectorySettings> current = store_.GetSettings(request.directory_id());
  if (!current.ok()) return current.status();
  absl::StatusOr<Evaluation> evaluation = policy::Evaluate(current->settings, completed);
  if (!evaluation.ok()) return evaluation.status();
  pb::EvaluateResponse response;
  response.set_score(evaluation->score);
  response.set_required_level(evaluation->required_level);
  response.set_satisfied(evaluation->satisfied);
  for (MethodPoints& mp : evaluation->offered) *response.add_offered_methods() = std::move(mp);
  return response;
}

absl::StatusOr<pb::ListAuditEventsResponse> PolicyManager::ListAuditEvents(
    const Caller& caller, const pb::ListAuditEventsRequest& request) {
  if (absl::Status s = RequireAdminOrPlatform(caller, request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckDirectoryId(request.directory_id()); !s.ok()) return s;
  absl::StatusOr<int> size = EffectivePageSize(request.page_size());
  if (!size.ok()) return size.status();
  absl::StatusOr<int64_t> cursor = DecodePageToken(kAuditPages, request.page_token());
  if (!cursor.ok()) return cursor.status();
  // An unknown directory is NOT_FOUND, not an empty trail.
  if (absl::StatusOr<pb::Directory> d = store_.GetDirectory(request.directory_id()); !d.ok()) {
    return d.status();
  }
  absl::StatusOr<Page<pb::AuditEvent>> page =
      store_.ListAuditEvents(request.directory_id(), *cursor, *size);
  if (!page.ok()) return page.status();
  pb::ListAuditEventsResponse response;
  for (pb::AuditEvent& e : page->items) *response.add_events() = std::move(e);
  if (page->next_cursor != 0) {
    response.set_next_page_token(EncodePageToken(kAuditPages, page->next_cursor));
  }
  return response;
}

}  // namespace tally::policy
