#include "services/orchestrator/password_factor.h"

#include <optional>
#include <string>
#include <utility>

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

constexpr size_t kMaxPasswordBytes = 4096;

}  // namespace

PasswordFactor::PasswordFactor(LoginCore& core) : core_(core) {}

bool PasswordFactor::Completes(AuthMethod method) const {
  return method == cpb::AUTH_METHOD_PASSWORD;
}

void PasswordFactor::LearnCaps(const User& user, const AuthSettings&, absl::Time, bool, bool,
                               UserCaps& caps) {
  caps.has_password = user.has_password();
}

bool PasswordFactor::Usable(AuthMethod, LoginRecord& record, absl::Time) {
  return record.caps.has_value() && record.caps->has_password;
}

absl::StatusOr<pb::LoginState> PasswordFactor::Submit(const pb::SubmitPasswordRequest& request,
                                                      absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("password", request.password(), kMaxPasswordBytes); !s.ok()) {
    return s;
  }
  absl::StatusOr<OpenStep> step =
      core_.Open(request.login_id(), cpb::AUTH_METHOD_PASSWORD, deadline);
  if (!step.ok()) return step.status();
  LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  if (record.subject.empty()) {
    return absl::FailedPreconditionError("AUTH_METHOD_PASSWORD is not offered in this login");
  }
  absl::StatusOr<Reservation> reservation = core_.Reserve(record);
  if (!reservation.ok()) return reservation.status();
  if (!reservation->granted) {
    return core_.Finalize(std::move(record), settings, deadline, reservation->retry_after);
  }

  const std::string username =
      record.user_id.empty() || !record.caps.has_value() ? record.username : record.caps->username;
  absl::StatusOr<User> user = core_.credentials().VerifyPassword(
      record.directory_id, username, request.password(), kReservedCheckDeadline);
  const std::string expected = record.user_id.empty() ? record.candidate_user_id : record.user_id;
  if (user.ok() && !expected.empty() && user->user_id() == expected) {
    return core_.Finalize(core_.Accept(record, cpb::AUTH_METHOD_PASSWORD, expected, reservation->id,
                                       {}, settings, deadline, *user),
                          settings, deadline);
  }
  if (user.ok() || absl::IsUnauthenticated(user.status())) {
    return core_.Finalize(
        core_.Reject(record, cpb::AUTH_METHOD_PASSWORD, reservation->id, std::nullopt, {}),
        settings, deadline);
  }
  (void)core_.lockout().Cancel(record.directory_id, record.subject, reservation->id);
  return user.status();
}

}  // namespace tally::orchestrator
