#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// A code from the user's authenticator app (SubmitTotp), checked by the credential service's
// VerifyTotp, which owns the secret and refuses a time step used before (replay). Offered to a
// proven user only when an app is enrolled (DESIGN.md §1 rule 7).
class TotpFactor final : public Factor {
 public:
  explicit TotpFactor(LoginCore& core);

  absl::StatusOr<pb::LoginState> Submit(const pb::SubmitTotpRequest& request,
                                        absl::Time deadline);

  bool Completes(AuthMethod method) const override;
  void LearnCaps(const ::tally::credential::v1::User& user,
                 const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                 bool accepted, bool login_complete, UserCaps& caps) override;
  bool Usable(AuthMethod method, LoginRecord& record, absl::Time deadline) override;

 private:
  LoginCore& core_;
};

}  // namespace tally::orchestrator
