#include "services/orchestrator/totp_factor.h"

#include <string>

#include "services/orchestrator/user_code_step.h"

namespace tally::orchestrator {
namespace {

namespace cpb = ::tally::common::v1;
using ::tally::credential::v1::User;
using ::tally::policy::v1::AuthSettings;

// Room for "123 456" and the like; the credential service decides what matches.
constexpr size_t kMaxTotpCodeBytes = 32;

}  // namespace

TotpFactor::TotpFactor(LoginCore& core) : core_(core) {}

bool TotpFactor::Completes(AuthMethod method) const { return method == cpb::AUTH_METHOD_TOTP; }

void TotpFactor::LearnCaps(const User& user, const AuthSettings&, absl::Time, bool, bool,
                           UserCaps& caps) {
  caps.has_totp = user.has_totp();
}

bool TotpFactor::Usable(AuthMethod, LoginRecord& record, absl::Time) {
  return record.caps.has_value() && record.caps->has_totp;
}

absl::StatusOr<pb::LoginState> TotpFactor::Submit(const pb::SubmitTotpRequest& request,
                                                  absl::Time deadline) {
  if (absl::Status s = CheckLoginId(request.login_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("code", request.code(), kMaxTotpCodeBytes); !s.ok()) return s;
  return UserCodeStep(core_, request.login_id(), cpb::AUTH_METHOD_TOTP, deadline,
                      [&](const LoginRecord& record, const std::string& user_id,
                          UserCodeAccepted&) {
                        return core_.credentials().VerifyTotp(record.directory_id, user_id,
                                                              request.code(),
                                                              kReservedCheckDeadline);
                      });
}

}  // namespace tally::orchestrator
