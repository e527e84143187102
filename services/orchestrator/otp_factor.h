#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// One-time codes by SMS and e-mail (SendOtp, VerifyOtp), issued and checked by the OTP service.
// A login with nowhere to send a code (an unknown username, or a user not yet proven who has no
// such destination) still calls SendCode, asking for a code to nobody: the OTP service answers it
// with its own cooldown, caps and attempts and delivers nothing, so the login answers and works
// exactly as one whose code was sent.
class OtpFactor final : public Factor {
 public:
  OtpFactor(LoginCore& core, OtpPeer& otp);

  absl::StatusOr<pb::LoginState> Send(const pb::SendOtpRequest& request, absl::Time deadline);
  absl::StatusOr<pb::LoginState> Verify(const pb::VerifyOtpRequest& request, absl::Time deadline);

  bool Completes(AuthMethod method) const override;
  void LearnCaps(const ::tally::credential::v1::User& user,
                 const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                 bool accepted, bool login_complete, UserCaps& caps) override;
  bool Usable(AuthMethod method, LoginRecord& record, absl::Time deadline) override;

 private:
  LoginCore& core_;
  OtpPeer& otp_;
};

}  // namespace tally::orchestrator
