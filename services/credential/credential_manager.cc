#include "services/credential/credential_manager.h"

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "common/util/paging.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/credential/user_fields.h"

namespace tally::credential {
namespace {

constexpr absl::string_view kUserPages = "users";
// The one answer to a failed VerifyPassword, whatever failed (API.md).
constexpr char kBadLogin[] = "invalid username or password";

absl::Status UsernameTaken() {
  return absl::AlreadyExistsError("the directory already has a user with this username");
}

}  // namespace

CredentialManager::CredentialManager(CredentialStore& store, BoundedHasher& hasher,
                                     const PasswordPolicy& policy, CredentialMetrics& metrics,
                                     const Clock& clock, RandomSource& random)
    : store_(store),
      hasher_(hasher),
      policy_(policy),
      metrics_(metrics),
      clock_(clock),
      random_(random),
      logger_(GetLogger("credential")) {}

absl::StatusOr<StoredUser> CredentialManager::LoadForChange(const Caller& caller,
                                                            const std::string& user_id, Who who) {
  // Whatever the directory, only a session token can pass: the checks answer for the others.
  if (caller.kind != Caller::Kind::kUser) {
    return who == Who::kAdmin ? RequireAdmin(caller, "") : RequireSelfOrAdmin(caller, "", "");
  }
  if (absl::Status s = CheckId("user_id", user_id); !s.ok()) return s;
  absl::StatusOr<StoredUser> user = store_.GetUser(user_id);
  if (!user.ok()) return user.status();
  const std::string& directory_id = user->user.directory_id();
  absl::Status allowed = who == Who::kAdmin ? RequireAdmin(caller, directory_id)
                                            : RequireSelfOrAdmin(caller, directory_id, user_id);
  if (!allowed.ok()) return allowed;
  return user;
}

absl::StatusOr<pb::CreateUserResponse> CredentialManager::CreateUser(
    const Caller& caller, const pb::CreateUserRequest& request, absl::Time deadline) {
  // Who asks comes before what is asked: a caller without rights learns nothing from errors.
  if (absl::Status s = RequireAdminOrPlatform(caller, request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  absl::StatusOr<Username> username = CheckUsername(request.username());
  if (!username.ok()) return username.status();
  absl::StatusOr<std::string> email = NormalizeEmail(request.email());
  if (!email.ok()) return email.status();
  absl::StatusOr<std::string> phone = NormalizePhoneNumber(request.phone_number());
  if (!phone.ok()) return phone.status();
  absl::StatusOr<std::vector<std::string>> roles = CheckRoles(request.roles());
  if (!roles.ok()) return roles.status();
  if (roles->empty()) roles->push_back("user");
  if (!request.password().empty()) {
    if (absl::Status s = CheckPasswordShape(request.password(), "password"); !s.ok()) return s;
    if (absl::Status s = policy_.Check(request.password(), username->display); !s.ok()) return s;
  }
  // A taken username is refused before the expensive hash; the unique index settles races.
  absl::StatusOr<StoredUser> existing = store_.FindUser(request.directory_id(), username->key);
  if (existing.ok()) return UsernameTaken();
  if (!absl::IsNotFound(existing.status())) return existing.status();

  StoredUser stored;
  if (!request.password().empty()) {
    absl::StatusOr<std::string> hash = hasher_.Hash(request.password(), deadline);
    if (!hash.ok()) return hash.status();
    stored.password_hash = *std::move(hash);
  }
  // PostgreSQL keeps microseconds: the answer must equal what a later read returns.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));
  User& user = stored.user;
  user.set_user_id(NewId(random_, "usr_"));
  user.set_directory_id(request.directory_id());
  user.set_username(username->display);
  user.set_email(*email);
  user.set_phone_number(*phone);
  for (std::string& role : *roles) user.add_roles(std::move(role));
  user.set_has_password(!stored.password_hash.empty());
  *user.mutable_create_time() = ToProtoTime(now);
  stored.username_key = username->key;

  std::vector<ContactChange> changes;
  if (!email->empty()) changes.push_back({user.user_id(), "email", now, caller.Actor()});
  if (!phone->empty()) changes.push_back({user.user_id(), "phone_number", now, caller.Actor()});
  if (absl::Status s = store_.CreateUser(stored, changes); !s.ok()) {
    return absl::IsAlreadyExists(s) ? UsernameTaken() : s;
  }
  logger_->info("{} created user {} in directory {}", caller.Actor(), user.user_id(),
                user.directory_id());
  pb::CreateUserResponse response;
  *response.mutable_user() = std::move(user);
  return response;
}

absl::StatusOr<pb::GetUserResponse> CredentialManager::GetUser(
    const Caller& caller /*the cluster, the user or an admin*/, const pb::GetUserRequest& request) {
  if (absl::Status s = CheckId("user_id", request.user_id()); !s.ok()) return s;
  absl::StatusOr<StoredUser> user = store_.GetUser(request.user_id());
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireOwnDirectory(caller, user->user.directory_id()); !s.ok()) return s;
  pb::GetUserResponse response;
  *response.mutable_user() = std::move(user->user);
  return response;
}

absl::StatusOr<pb::FindUserResponse> CredentialManager::FindUser(
    const Caller& caller /*the cluster*/, const pb::FindUserRequest& request) {
  if (absl::Status s = RequireOwnDirectory(caller, request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  absl::StatusOr<Username> username = CheckUsername(request.username());
  if (!username.ok()) return username.status();
  absl::StatusOr<StoredUser> user = store_.FindUser(request.directory_id(), username->key);
  if (!user.ok()) return user.status();
  pb::FindUserResponse response;
  *response.mutable_user() = std::move(user->user);
  return response;
}

absl::StatusOr<pb::ListUsersResponse> CredentialManager::ListUsers(
    const Caller& caller, const pb::ListUsersRequest& request) {
  if (absl::Status s = RequireAdmin(caller, request.directory_id()); !s.ok()) return s;
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  absl::StatusOr<int> size = EffectivePageSize(request.page_size());
  if (!size.ok()) return size.status();
  absl::StatusOr<int64_t> cursor = DecodePageToken(kUserPages, request.page_token());
  if (!cursor.ok()) return cursor.status();
  absl::StatusOr<Page<User>> page = store_.ListUsers(request.directory_id(), *cursor, *size);
  if (!page.ok()) return page.status();
  pb::ListUsersResponse response;
  for (User& user : page->items) *response.add_users() = std::move(user);
  if (page->next_cursor != 0) {
    response.set_next_page_token(EncodePageToken(kUserPages, page->next_cursor));
  }
  return response;
}

absl::StatusOr<pb::UpdateContactResponse> CredentialManager::UpdateContact(
    const Caller& caller, const pb::UpdateContactRequest& request) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kSelfOrAdmin);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::string> email = NormalizeEmail(request.email());
  if (!email.ok()) return email.status();
  absl::StatusOr<std::string> phone = NormalizePhoneNumber(request.phone_number());
  if (!phone.ok()) return phone.status();
  absl::StatusOr<StoredUser> updated =
      store_.UpdateContact(request.user_id(), *email, *phone, caller.Actor(), clock_.Now());
  if (!updated.ok()) return updated.status();
  logger_->info("{} updated the contact data of user {}", caller.Actor(), request.user_id());
  pb::UpdateContactResponse response;
  *response.mutable_user() = std::move(updated->user);
  return response;
}

absl::StatusOr<pb::SetPasswordResponse> CredentialManager::SetPassword(
    const Caller& caller, const pb::SetPasswordRequest& request, absl::Time deadline) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kSelfOrAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = CheckPasswordShape(request.new_password(), "new_password"); !s.ok()) {
    return s;
  }
  if (absl::Status s = policy_.Check(request.new_password(), user->user.username()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> hash = hasher_.Hash(request.new_password(), deadline);
  if (!hash.ok()) return hash.status();
  absl::StatusOr<StoredUser> updated = store_.SetPasswordHash(request.user_id(), *hash,
                                                              clock_.Now());
  if (!updated.ok()) return updated.status();
  logger_->info("{} set the password of user {}", caller.Actor(), request.user_id());
  pb::SetPasswordResponse response;
  *response.mutable_user() = std::move(updated->user);
  return response;
}

absl::StatusOr<pb::SetRolesResponse> CredentialManager::SetRoles(
    const Caller& caller, const pb::SetRolesRequest& request) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kAdmin);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::vector<std::string>> roles = CheckRoles(request.roles());
  if (!roles.ok()) return roles.status();
  absl::StatusOr<StoredUser> updated = store_.SetRoles(request.user_id(), *roles);
  if (!updated.ok()) return updated.status();
  logger_->info("{} set the roles of user {}", caller.Actor(), request.user_id());
  pb::SetRolesResponse response;
  *response.mutable_user() = std::move(updated->user);
  return response;
}

absl::StatusOr<pb::DeleteUserResponse> CredentialManager::DeleteUser(
    const Caller& caller, const pb::DeleteUserRequest& request) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = store_.DeleteUser(request.user_id()); !s.ok()) return s;
  logger_->info("{} deleted user {}", caller.Actor(), request.user_id());
  return pb::DeleteUserResponse();
}

absl::StatusOr<pb::VerifyPasswordResponse> CredentialManager::VerifyPassword(
    const Caller& /*cluster*/, const pb::VerifyPasswordRequest& request, absl::Time deadline) {
  // Malformed requests are refused before any look-up, so they tell nothing about who exists.
  if (absl::Status s = CheckId("directory_id", request.directory_id()); !s.ok()) return s;
  absl::StatusOr<Username> username = CheckUsername(request.username());
  if (!username.ok()) return username.status();
  if (absl::Status s = CheckPasswordShape(request.password(), "password"); !s.ok()) return s;
  CheckOutcome outcome = CheckOutcome::kError;
  absl::StatusOr<pb::VerifyPasswordResponse> result =
      CheckPassword(request.directory_id(), username->key, request.password(), deadline, &outcome);
  metrics_.RecordCheck(outcome);
  return result;
}

absl::StatusOr<pb::VerifyPasswordResponse> CredentialManager::CheckPassword(
    const std::string& directory_id, const std::string& username_key, const std::string& password,
    absl::Time deadline, CheckOutcome* outcome) {
  // Under overload most checks are refused: refuse them before the look-up too. The same for
  // every username, so it tells nothing about who exists.
  if (absl::Status admitted = hasher_.Admits(deadline); !admitted.ok()) {
    *outcome = CheckOutcome::kThrottled;
    return admitted;
  }
  absl::StatusOr<StoredUser> user = store_.FindUser(directory_id, username_key);
  if (!user.ok() && !absl::IsNotFound(user.status())) return user.status();
  if (!user.ok() || user->password_hash.empty()) {
    // Unknown user or no password: the same Argon2id work, the same answer.
    absl::Status s = hasher_.VerifyAgainstDummy(password, deadline);
    if (absl::IsResourceExhausted(s)) *outcome = CheckOutcome::kThrottled;
    if (!s.ok()) return s;
    *outcome = user.ok() ? CheckOutcome::kNoPassword : CheckOutcome::kUnknownUser;
    logger_->trace("password check in directory {}: no such user or no password", directory_id);
    return absl::UnauthenticatedError(kBadLogin);
  }
  const std::string& user_id = user->user.user_id();
  absl::StatusOr<BoundedHasher::Checked> checked =
      hasher_.Verify(user->password_hash, password, deadline);
  if (!checked.ok()) {
    if (absl::IsResourceExhausted(checked.status())) {
      *outcome = CheckOutcome::kThrottled;
      return checked.status();
    }
    logger_->error("password check of user {} failed: {}", user_id, checked.status().message());
    return absl::InternalError("the stored password hash could not be checked");
  }
  if (!checked->match) {
    *outcome = CheckOutcome::kWrongPassword;
    logger_->trace("password check of user {}: wrong password", user_id);
    return absl::UnauthenticatedError(kBadLogin);
  }
  *outcome = CheckOutcome::kAccepted;
  if (!checked->rehashed.empty()) {
    absl::Status s = store_.ReplacePasswordHash(user_id, user->password_hash, checked->rehashed);
    if (s.ok()) {
      logger_->info("re-hashed the password of user {} with the current parameters", user_id);
    } else {
      logger_->warn("could not store the re-hashed password of user {}: {}", user_id, s);
    }
  }
  logger_->trace("password check of user {}: accepted", user_id);
  pb::VerifyPasswordResponse response;
  *response.mutable_user() = std::move(user->user);
  return response;
}

}  // namespace tally::credential
