#include "services/credential/credential_manager.h"

#include "absl/strings/str_cat.h"
#include "common/auth/freshness.h"
#include "common/logging/logging.h"
#include "common/status/error_details.h"
#include "common/util/contact.h"
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

constexpr absl::string_view kEmail = "email";
constexpr absl::string_view kPhone = "phone_number";
// The attempt-window method of SetPassword's current_password (FactorStore::CountAttempt).
constexpr absl::string_view kCurrentPasswordAttempts = "current_password";

::tally::otp::v1::Channel ChannelOf(absl::string_view field) {
  return field == kEmail ? ::tally::otp::v1::CHANNEL_EMAIL : ::tally::otp::v1::CHANNEL_SMS;
}

// INVALID_ARGUMENT when `phone` (non-empty) is outside `settings`' SMS countries.
absl::Status CheckSmsCountryIn(const ::tally::policy::v1::AuthSettings& settings,
                               const std::string& phone) {
  if (phone.empty()) return absl::OkStatus();
  const std::vector<std::string> allowed(settings.sms_allowed_country_codes().begin(),
                                         settings.sms_allowed_country_codes().end());
  if (SmsCountryAllowed(allowed, phone)) return absl::OkStatus();
  return WithBadRequest(
      absl::InvalidArgumentError(
          "phone_number is outside the countries this directory sends SMS to"),
      "phone_number", "country calling code not in sms_allowed_country_codes");
}

absl::Status ChangeGone() {
  return absl::NotFoundError("no such pending contact change (expired, used or replaced)");
}

}  // namespace

CredentialManager::CredentialManager(CredentialStore& store, BoundedHasher& hasher,
                                     const PasswordPolicy& policy, CredentialMetrics& metrics,
                                     const Clock& clock, RandomSource& random,
                                     AccountSecurityDeps security)
    : store_(store),
      hasher_(hasher),
      policy_(policy),
      metrics_(metrics),
      clock_(clock),
      random_(random),
      security_(security),
      logger_(GetLogger("credential")) {}

absl::Status CredentialManager::CheckSmsCountry(const std::string& directory_id,
                                                const std::string& phone) {
  if (phone.empty()) return absl::OkStatus();
  absl::StatusOr<::tally::policy::v1::AuthSettings> settings =
      security_.directories.AuthSettings(directory_id);
  if (!settings.ok()) return settings.status();
  return CheckSmsCountryIn(*settings, phone);
}

absl::Status CredentialManager::CheckCurrentPassword(const StoredUser& user,
                                                     const std::string& current_password,
                                                     absl::Time deadline) {
  const std::string& user_id = user.user.user_id();
  if (current_password.empty()) {
    return WithBadRequest(absl::PermissionDeniedError(
                              "current_password is required to change your own password"),
                          "current_password", "required");
  }
  if (absl::Status s = CheckPasswordShape(current_password, "current_password"); !s.ok()) {
    return s;
  }
  const AccountSecurityOptions& options = security_.options;
  const absl::Time now = clock_.Now();
  absl::StatusOr<AttemptWindow> window = security_.attempts.CountAttempt(
      user_id, kCurrentPasswordAttempts, options.current_password_attempt_window, now);
  if (!window.ok()) return window.status();
  if (window->attempts > options.current_password_attempts) {
    const absl::Duration retry = window->start + options.current_password_attempt_window - now;
    logger_->warn("password change of user {} refused: too many current-password attempts",
                  user_id);
    return WithRetryInfo(
        absl::ResourceExhaustedError(absl::StrCat(
            "too many attempts at the current password; retry in ",
            absl::FormatDuration(absl::Ceil(retry, absl::Seconds(1))))),
        retry);
  }
  absl::StatusOr<BoundedHasher::Checked> checked =
      hasher_.Verify(user.password_hash, current_password, deadline);
  if (!checked.ok()) {
    if (absl::IsResourceExhausted(checked.status())) return checked.status();
    logger_->error("password check of user {} failed: {}", user_id, checked.status().message());
    return absl::InternalError("the stored password hash could not be checked");
  }
  if (!checked->match) {
    logger_->info("password change of user {} refused: wrong current password", user_id);
    return absl::PermissionDeniedError("the current password is wrong");
  }
  if (absl::Status s = security_.attempts.ClearAttempts(user_id, kCurrentPasswordAttempts);
      !s.ok()) {
    logger_->warn("could not clear the current-password attempts of user {}: {}", user_id, s);
  }
  return absl::OkStatus();
}

absl::Status CredentialManager::EndSessionsAround(const StoredUser& user,
                                                  absl::FunctionRef<absl::Status()> commit) {
  const std::string& directory_id = user.user.directory_id();
  const std::string& user_id = user.user.user_id();
  if (absl::Status s = security_.revocations.RevokeUser(directory_id, user_id, clock_.Now());
      !s.ok()) {
    logger_->error("could not end the sessions of user {}: {}; the change is refused", user_id,
                   s);
    return absl::UnavailableError("cannot end the user's sessions now; nothing was changed");
  }
  if (absl::Status s = commit(); !s.ok()) return s;
  if (absl::Status s = security_.revocations.RevokeUser(directory_id, user_id, clock_.Now());
      !s.ok()) {
    // The first mark already ended every session from before the request.
    logger_->warn("could not renew the session mark of user {} after the change: {}", user_id, s);
  }
  return absl::OkStatus();
}

void CredentialManager::NotifyOldDestination(const std::string& directory_id,
                                             const std::string& user_id, const std::string& field,
                                             const std::string& old_value, absl::Time deadline) {
  if (old_value.empty()) return;
  ::tally::otp::v1::SendNoticeRequest notice;
  notice.set_directory_id(directory_id);
  notice.set_channel(ChannelOf(field));
  notice.set_destination(old_value);
  notice.set_kind(::tally::otp::v1::NOTICE_CONTACT_CHANGED);
  if (absl::Status s = security_.otp.SendNotice(notice, deadline); !s.ok()) {
    logger_->warn("could not tell the old {} of user {} about its change: {}", field, user_id, s);
  }
}

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
  // The directory must exist (NOT_FOUND, as the contract says) and allow the phone's country.
  absl::StatusOr<::tally::policy::v1::AuthSettings> settings =
      security_.directories.AuthSettings(request.directory_id());
  if (!settings.ok()) return settings.status();
  if (absl::Status s = CheckSmsCountryIn(*settings, *phone); !s.ok()) return s;
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
    const Caller& caller, const pb::UpdateContactRequest& request, absl::Time deadline) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kSelfOrAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  absl::StatusOr<std::string> email = NormalizeEmail(request.email());
  if (!email.ok()) return email.status();
  absl::StatusOr<std::string> phone = NormalizePhoneNumber(request.phone_number());
  if (!phone.ok()) return phone.status();
  const User& stored = user->user;
  const std::string& directory_id = stored.directory_id();
  const bool email_changes = *email != stored.email();
  const bool phone_changes = *phone != stored.phone_number();
  pb::UpdateContactResponse response;
  if (!email_changes && !phone_changes) {
    *response.mutable_user() = std::move(user->user);
    return response;
  }
  if (phone_changes) {
    if (absl::Status s = CheckSmsCountry(directory_id, *phone); !s.ok()) return s;
  }
  // An admin editing someone else's account applies at once; an admin's own account is the
  // user's own change, as for anyone.
  const bool by_user = caller.IsUser(request.user_id());
  if (by_user && email_changes && phone_changes) {
    return WithBadRequest(absl::InvalidArgumentError(
                              "change one of email and phone_number at a time: a code goes to "
                              "the new destination"),
                          "phone_number", "only one destination may change per call");
  }
  const std::string field(email_changes ? kEmail : kPhone);
  const std::string& value = email_changes ? *email : *phone;
  // Removing a destination proves nothing to a code: it applies at once (fresh session), and
  // the old destination is told like for any change.
  if (!by_user || value.empty()) {
    absl::StatusOr<StoredUser> updated =
        store_.UpdateContact(request.user_id(), *email, *phone, caller.Actor(), clock_.Now());
    if (!updated.ok()) return updated.status();
    logger_->info("{} updated the contact data of user {}", caller.Actor(), request.user_id());
    if (email_changes) {
      NotifyOldDestination(directory_id, stored.user_id(), std::string(kEmail), stored.email(),
                           deadline);
    }
    if (phone_changes) {
      NotifyOldDestination(directory_id, stored.user_id(), std::string(kPhone),
                           stored.phone_number(), deadline);
    }
    *response.mutable_user() = std::move(updated->user);
    return response;
  }
  // The user's new destination counts once a code sent to it comes back.
  ::tally::otp::v1::SendCodeRequest send;
  send.set_directory_id(directory_id);
  send.set_user_id(stored.user_id());
  send.set_channel(ChannelOf(field));
  send.set_destination(value);
  // A fresh session of the user has proven its factors: the normal caps apply.
  send.set_proven(true);
  absl::StatusOr<::tally::otp::v1::SendCodeResponse> sent = security_.otp.SendCode(send, deadline);
  if (!sent.ok()) return sent.status();
  PendingContactChange pending{NewId(random_, "chg_"),  stored.user_id(), directory_id, field,
                               value, sent->challenge_id(), FromProtoTime(sent->expire_time())};
  if (absl::Status s = store_.PutPendingContactChange(pending); !s.ok()) return s;
  logger_->info("{} asked to change the {} of user {}: change {} waits for its code",
                caller.Actor(), field, stored.user_id(), pending.change_id);
  *response.mutable_user() = std::move(user->user);
  response.set_pending_change_id(pending.change_id);
  return response;
}

absl::StatusOr<pb::ConfirmContactChangeResponse> CredentialManager::ConfirmContactChange(
    const Caller& caller, const pb::ConfirmContactChangeRequest& request, absl::Time deadline) {
  if (caller.kind != Caller::Kind::kUser) return RequireSelfOrAdmin(caller, "", "");
  if (absl::Status s = CheckId("change_id", request.change_id()); !s.ok()) return s;
  absl::StatusOr<PendingContactChange> pending =
      store_.GetPendingContactChange(request.change_id(), clock_.Now());
  if (!pending.ok()) return pending.status();
  // Only the user who asked: not even an admin confirms someone else's destination.
  if (!caller.IsUser(pending->user_id) ||
      caller.claims.directory_id != pending->directory_id) {
    return absl::PermissionDeniedError("only the user who asked for the change may confirm it");
  }
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  if (request.code().empty() || request.code().size() > 64 ||
      !IsValidUtf8(request.code())) {
    return WithBadRequest(absl::InvalidArgumentError("code must be the code that was sent"),
                          "code", "1 to 64 bytes");
  }
  ::tally::otp::v1::VerifyCodeRequest verify;
  verify.set_directory_id(pending->directory_id);
  verify.set_challenge_id(pending->challenge_id);
  verify.set_code(request.code());
  absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> verified =
      security_.otp.VerifyCode(verify, deadline);
  if (!verified.ok()) return verified.status();
  if (verified->result() == ::tally::otp::v1::VERIFY_RESULT_WRONG_CODE) {
    // The OTP service counts the attempts; the change stays pending until they run out.
    return absl::UnauthenticatedError(
        absl::StrCat("wrong code; ", verified->attempts_left(), " attempts left"));
  }
  if (verified->result() != ::tally::otp::v1::VERIFY_RESULT_ACCEPTED ||
      verified->user_id() != pending->user_id) {
    // Expired, used up or not this user's: the change is dead; the user asks again.
    if (absl::Status s = store_.DeletePendingContactChange(pending->change_id); !s.ok()) {
      logger_->warn("could not remove the dead contact change {}: {}", pending->change_id, s);
    }
    logger_->info("contact change {} of user {} ended: its code expired or ran out of attempts",
                  pending->change_id, pending->user_id);
    return ChangeGone();
  }
  absl::StatusOr<AppliedContactChange> applied =
      store_.ApplyPendingContactChange(pending->change_id, caller.Actor(), clock_.Now());
  if (!applied.ok()) return applied.status();
  logger_->info("{} confirmed the new {} of user {}", caller.Actor(), pending->field,
                pending->user_id);
  NotifyOldDestination(pending->directory_id, pending->user_id, pending->field,
                       applied->old_value, deadline);
  pb::ConfirmContactChangeResponse response;
  *response.mutable_user() = std::move(applied->user.user);
  return response;
}

absl::StatusOr<pb::SetPasswordResponse> CredentialManager::SetPassword(
    const Caller& caller, const pb::SetPasswordRequest& request, absl::Time deadline) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kSelfOrAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  if (absl::Status s = CheckPasswordShape(request.new_password(), "new_password"); !s.ok()) {
    return s;
  }
  if (absl::Status s = policy_.Check(request.new_password(), user->user.username()); !s.ok()) {
    return s;
  }
  // A session alone does not change the user's own password (an admin's is the user's own too);
  // an admin setting someone else's needs only a fresh token of their own.
  if (caller.IsUser(request.user_id()) && !user->password_hash.empty()) {
    if (absl::Status s = CheckCurrentPassword(*user, request.current_password(), deadline);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::string> hash = hasher_.Hash(request.new_password(), deadline);
  if (!hash.ok()) return hash.status();
  absl::StatusOr<StoredUser> updated = absl::UnknownError("not set");
  if (absl::Status s = EndSessionsAround(*user, [&] {
        updated = store_.SetPasswordHash(request.user_id(), *hash, clock_.Now());
        return updated.status();
      });
      !s.ok()) {
    return s;
  }
  logger_->info("{} set the password of user {}; the user's sessions ended", caller.Actor(),
                request.user_id());
  pb::SetPasswordResponse response;
  *response.mutable_user() = std::move(updated->user);
  return response;
}

absl::StatusOr<pb::SetRolesResponse> CredentialManager::SetRoles(
    const Caller& caller, const pb::SetRolesRequest& request) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> roles = CheckRoles(request.roles());
  if (!roles.ok()) return roles.status();
  absl::StatusOr<StoredUser> updated = absl::UnknownError("not set");
  // Roles travel in tokens: the old ones would keep a demoted admin's rights until exp.
  if (absl::Status s = EndSessionsAround(*user, [&] {
        updated = store_.SetRoles(request.user_id(), *roles);
        return updated.status();
      });
      !s.ok()) {
    return s;
  }
  logger_->info("{} set the roles of user {}; the user's sessions ended", caller.Actor(),
                request.user_id());
  pb::SetRolesResponse response;
  *response.mutable_user() = std::move(updated->user);
  return response;
}

absl::StatusOr<pb::DeleteUserResponse> CredentialManager::DeleteUser(
    const Caller& caller, const pb::DeleteUserRequest& request) {
  absl::StatusOr<StoredUser> user = LoadForChange(caller, request.user_id(), Who::kAdmin);
  if (!user.ok()) return user.status();
  if (absl::Status s = RequireFreshAuthentication(caller); !s.ok()) return s;
  if (absl::Status s =
          EndSessionsAround(*user, [&] { return store_.DeleteUser(request.user_id()); });
      !s.ok()) {
    return s;
  }
  logger_->info("{} deleted user {}; the user's sessions ended", caller.Actor(),
                request.user_id());
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
