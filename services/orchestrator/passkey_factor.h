#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// Passkeys (StartPasskey, FinishPasskey), verified by the passkey service. Until the user is
// proven the ceremony is discoverable, whether or not the username exists, so its options never
// list a user's credentials; in a passkey-first login (no username) the passkey names the user.
//
// Whether a user has a passkey: PasskeyService.ListPasskeys is not a cluster call, so the login
// asks StartAuthentication for the user once, when the user is proven and PASSKEY is enabled;
// FAILED_PRECONDITION ("the user has no passkey") means not usable. The answer is kept in the
// login. If the passkey service is down then, PASSKEY is not offered for that step and asked
// again at the next one.
class PasskeyFactor final : public Factor {
 public:
  PasskeyFactor(LoginCore& core, PasskeyPeer& passkeys);

  // `options`: the ceremony's request options (WebAuthn JSON), when one was started.
  absl::StatusOr<pb::LoginState> Start(const pb::StartPasskeyRequest& request, absl::Time deadline,
                                       std::string& options);
  absl::StatusOr<pb::LoginState> Finish(const pb::FinishPasskeyRequest& request,
                                        absl::Time deadline);

  bool Completes(AuthMethod method) const override;
  bool IdentifiesUser() const override { return true; }
  void LearnCaps(const ::tally::credential::v1::User& user,
                 const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                 bool accepted, bool login_complete, UserCaps& caps) override;
  bool Usable(AuthMethod method, LoginRecord& record, absl::Time deadline) override;

 private:
  LoginCore& core_;
  PasskeyPeer& passkeys_;
};

}  // namespace tally::orchestrator
