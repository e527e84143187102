#include "services/orchestrator/recovery_code_factor.h"

#include <memory>
#include <optional>
#include <string>

#include "common/logging/logging.h"
#include "services/orchestrator/user_code_step.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
namespace otppb = ::tally::otp::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

// Room for a code typed with separators and spaces; the credential service decides what matches.
constexpr size_t kMaxRecoveryCodeBytes = 64;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = GetLogger("login");
  return logger;
}

}  // namespace

RecoveryCodeFactor::RecoveryCodeFactor(LoginCore& core, OtpPeer& otp) : core_(core), otp_(otp) {}

bool RecoveryCodeFactor::Completes(AuthMethod method) const {
  return method == cpb::AUTH_METHOD_RECOVERY_CODE;
}

void RecoveryCodeFactor::LearnCaps(const User& user, const AuthSettings&, absl::Time, bool, bool,
                                   UserCaps& caps) {
  caps.has_recovery_codes = user.recovery_codes_left() > 0;
}

bool RecoveryCodeFactor::Usable(AuthMethod, LoginRecord& record, absl::Time) {
  return record.caps.has_value() && record.caps->has_recovery_codes;
}

void RecoveryCodeFactor::Notify(const std::string& directory_id, const std::string& user_id,
                                const std::optional<User>& user, absl::Time deadline) {
  if (!user.has_value()) {
    Log()->warn("user {} used a recovery code but could not be read to be told", user_id);
    return;
  }
  if (user->email().empty()) return;
  otppb::SendNoticeRequest notice;
  notice.set_directory_id(directory_id);
  notice.set_channel(otppb::CHANNEL_EMAIL);
  notice.set_destination(user->email());
  notice.set_kind(otppb::NOTICE_RECOVERY_CODE_USED);
  if (absl::Status s = otp_.SendNotice(notice, deadline); !s.ok()) {
    Log()->warn("could not tell user {} that a recovery code was used: {}", user_id, s);
  }
}

absl::StatusOr<pb::LoginState> RecoveryCodeFactor::Submit(
    const pb::SubmitRecoveryCodeRequest& request, absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("code", request.code(), kMaxRecoveryCodeBytes); !s.ok()) {
    return s;
  }
  return UserCodeStep(
      core_, request.login_id(), cpb::AUTH_METHOD_RECOVERY_CODE, deadline,
      [&](const LoginRecord& record, const std::string& user_id,
          UserCodeAccepted& accepted) -> absl::Status {
        absl::StatusOr<int> left = core_.credentials().VerifyRecoveryCode(
            record.directory_id, user_id, request.code(), kReservedCheckDeadline);
        if (!left.ok()) return left.status();
        accepted.update.recovery_codes_left = *left;
        // The code is used up whatever happens to the login now: the user is told either way,
        // also when the caller has stopped waiting (hence not the caller's deadline).
        absl::StatusOr<User> user = core_.credentials().GetUser(user_id, kReservedCheckDeadline);
        if (user.ok()) accepted.user = *user;
        Notify(record.directory_id, user_id, accepted.user, kReservedCheckDeadline);
        return absl::OkStatus();
      });
}

}  // namespace tally::orchestrator
