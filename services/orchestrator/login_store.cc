#include "services/orchestrator/login_store.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"

namespace tally::orchestrator {
namespace {

constexpr char kLoginPrefix[] = "lgn_";
constexpr size_t kLoginPrefixSize = sizeof(kLoginPrefix) - 1;

}  // namespace

std::string NewLoginId(RandomSource& random, absl::string_view directory_id) {
  return absl::StrCat(NewId(random, kLoginPrefix), "-", directory_id);
}

absl::StatusOr<std::string> DirectoryOfLoginId(absl::string_view login_id) {
  const absl::Status malformed = absl::InvalidArgumentError("login_id is malformed");
  if (login_id.empty()) return absl::InvalidArgumentError("login_id is required");
  if (!absl::StartsWith(login_id, kLoginPrefix) || login_id.size() > 200) return malformed;
  const size_t dash = login_id.find('-');
  if (dash == absl::string_view::npos) return malformed;
  const absl::string_view random = login_id.substr(kLoginPrefixSize, dash - kLoginPrefixSize);
  const absl::string_view directory = login_id.substr(dash + 1);
  if (random.empty() || !IsValidId(std::string_view(random.data(), random.size())) ||
      !IsValidId(std::string_view(directory.data(), directory.size()))) {
    return malformed;
  }
  return std::string(directory);
}

void ApplyUpdate(const LoginUpdate& u, LoginRecord& r) {
  const auto stored = [](absl::Time t) { return absl::FromUnixMillis(absl::ToUnixMillis(t)); };
  if (u.complete_method.has_value()) {
    r.completed.try_emplace(*u.complete_method, stored(u.completed_at));
  }
  if (u.user_id.has_value()) r.user_id = *u.user_id;
  if (u.subject.has_value()) r.subject = *u.subject;
  if (u.caps.has_value()) r.caps = *u.caps;
  if (u.otp.has_value()) {
    r.otp = *u.otp;
    r.otp->resend_after = stored(r.otp->resend_after);
  }
  if (u.passkey_challenge_id.has_value()) r.passkey_challenge_id = *u.passkey_challenge_id;
  if (u.last_step.has_value()) r.last_step = *u.last_step;
  if (u.passkey_synced.has_value()) r.passkey_synced = *u.passkey_synced;
  if (u.device_trusted.has_value()) {
    r.device_token.clear();
    if (*u.device_trusted) {
      r.completed.try_emplace(::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE,
                              stored(u.completed_at));
    }
  }
  if (u.recovery_codes_left.has_value()) r.recovery_codes_left = *u.recovery_codes_left;
}

absl::Duration EndedLoginLockedFor(absl::Duration subject_locked_for) {
  return std::max(subject_locked_for, kEndedLoginRetryAfter);
}

absl::Status LoginNotFoundError() { return absl::NotFoundError("unknown or expired login"); }

absl::Status LoginFinishedError() {
  return absl::FailedPreconditionError("login already finished");
}

absl::StatusOr<GuardedUpdate> LoginStore::UpdateUnlessLocked(absl::string_view login_id,
                                                             const LoginUpdate& update,
                                                             absl::string_view subject,
                                                             absl::Time now) {
  if (update.lockout_success.has_value()) {
    // Its lockout keys would take the place of the lock the guard reads.
    return absl::InvalidArgumentError("a guarded login update cannot carry a lockout success");
  }
  if (!subject.empty()) return GuardedUpdateChecked(login_id, update, subject, now);
  absl::StatusOr<LoginRecord> after = Update(login_id, update);
  if (!after.ok()) return after.status();
  return GuardedUpdate{*std::move(after), absl::ZeroDuration()};
}

absl::StatusOr<Rejection> LoginStore::Reject(absl::string_view login_id, const LoginUpdate& update,
                                             const LockoutFailure& failure) {
  if (update.lockout_success.has_value() || !update.last_step.has_value()) {
    return absl::InvalidArgumentError(
        "a rejection's login update needs a last step and no lockout success");
  }
  if (failure.subject.empty()) return absl::InvalidArgumentError("a failure needs a subject");
  return RejectChecked(login_id, update, failure);
}

}  // namespace tally::orchestrator
