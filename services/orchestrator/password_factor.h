#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// The password (SubmitPassword), checked by the credential service's VerifyPassword. An unknown
// username is checked all the same (the credential service burns a dummy hash).
class PasswordFactor final : public Factor {
 public:
  explicit PasswordFactor(LoginCore& core);

  absl::StatusOr<pb::LoginState> Submit(const pb::SubmitPasswordRequest& request,
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
