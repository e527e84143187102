#include "services/orchestrator/user_code_step.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tally::orchestrator {

using ::tally::policy::v1::AuthSettings;

absl::StatusOr<pb::LoginState> UserCodeStep(
    LoginCore& core, absl::string_view login_id, AuthMethod method, absl::Time deadline,
    absl::FunctionRef<absl::Status(const LoginRecord& record, const std::string& user_id,
                                   UserCodeAccepted& accepted)>
        check) {
  absl::StatusOr<OpenStep> step = core.Open(login_id, method, deadline);
  if (!step.ok()) return step.status();
  LoginRecord& record = step->record;
  const AuthSettings& settings = step->settings;
  if (record.subject.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(::tally::common::v1::AuthMethod_Name(method), " is not offered in this login"));
  }
  absl::StatusOr<Reservation> reservation = core.Reserve(record);
  if (!reservation.ok()) return reservation.status();
  if (!reservation->granted) {
    return core.Finalize(std::move(record), settings, deadline, reservation->retry_after);
  }

  const std::string user_id = record.user_id.empty() ? record.candidate_user_id : record.user_id;
  // An unknown username has no code to match: counted like a wrong one.
  absl::Status checked = absl::UnauthenticatedError("no such user");
  UserCodeAccepted accepted;
  if (!user_id.empty()) checked = check(record, user_id, accepted);
  if (checked.ok()) {
    return core.Finalize(core.Accept(record, method, user_id, reservation->id,
                                     std::move(accepted.update), settings, deadline,
                                     std::move(accepted.user)),
                         settings, deadline);
  }
  if (absl::IsUnauthenticated(checked) || absl::IsNotFound(checked)) {
    return core.Finalize(core.Reject(record, method, reservation->id, std::nullopt, {}), settings,
                         deadline);
  }
  (void)core.lockout().Cancel(record.directory_id, record.subject, reservation->id);
  return checked;
}

}  // namespace tally::orchestrator
