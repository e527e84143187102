#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// One of the user's single-use recovery codes (SubmitRecoveryCode), used up by the credential
// service's VerifyRecoveryCode. Offered to a proven user only while codes are left (DESIGN.md §1
// rule 7). A used code shows the codes left in LoginState.recovery_codes_left and tells the
// user by e-mail, when one is on file (OtpService.SendNotice): someone else may hold the codes.
class RecoveryCodeFactor final : public Factor {
 public:
  RecoveryCodeFactor(LoginCore& core, OtpPeer& otp);

  absl::StatusOr<pb::LoginState> Submit(const pb::SubmitRecoveryCodeRequest& request,
                                        absl::Time deadline);

  bool Completes(AuthMethod method) const override;
  void LearnCaps(const ::tally::credential::v1::User& user,
                 const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                 bool accepted, bool login_complete, UserCaps& caps) override;
  bool Usable(AuthMethod method, LoginRecord& record, absl::Time deadline) override;

 private:
  // Tells the user a code was used. A failure is logged: the login goes on.
  void Notify(const std::string& directory_id, const std::string& user_id,
              const std::optional<::tally::credential::v1::User>& user, absl::Time deadline);

  LoginCore& core_;
  OtpPeer& otp_;
};

}  // namespace tally::orchestrator
