#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "services/orchestrator/factor.h"
#include "services/orchestrator/login_core.h"
#include "services/orchestrator/peers.h"
#include "tally/orchestrator/v1/orchestrator.pb.h"

namespace tally::orchestrator {

// StartLoginRequest.device_token can be at most this long; a longer one is not a token the
// credential service issued, so it is dropped as if none was sent.
inline constexpr size_t kMaxDeviceTokenBytes = 512;

// A remembered device (AUTH_METHOD_TRUSTED_DEVICE, DESIGN.md §1 rule 9): presented with
// StartLogin, never offered as a step. Its token is checked once per login, by the credential
// service's VerifyDevice, when PASSWORD or PASSKEY is accepted for a known user: it skips the
// code, never the password. Another user's, an expired, forgotten or garbage token is checked
// all the same and adds nothing, so the answer and the calls made are those of any token. Also
// LoginService.RememberDevice.
class DeviceFactor final : public Factor {
 public:
  DeviceFactor(LoginCore& core, OtpPeer& otp);

  absl::StatusOr<pb::RememberDeviceResponse> Remember(const pb::RememberDeviceRequest& request,
                                                      absl::Time deadline);

  bool Completes(AuthMethod method) const override;
  void LearnCaps(const ::tally::credential::v1::User&, const ::tally::policy::v1::AuthSettings&,
                 absl::Time, bool, bool, UserCaps&) override {}
  // Never offered: a device is presented with StartLogin.
  bool Usable(AuthMethod, LoginRecord&, absl::Time) override { return false; }
  void AlongWith(const LoginRecord& record, AuthMethod accepted, absl::string_view user_id,
                 const ::tally::policy::v1::AuthSettings& settings, absl::Time deadline,
                 LoginUpdate& update) override;

 private:
  // Tells the user (by e-mail, if on file) that a device was remembered; a failure is logged.
  void Notify(const LoginRecord& login, absl::Time deadline);

  LoginCore& core_;
  OtpPeer& otp_;
};

// SessionService.ListTrustedDevices and ForgetDevice: for the user themself (ForgetDevice with
// a fresh token) or an admin of the user's directory, through the credential service.
class UserDevices {
 public:
  // Everything referenced must outlive this.
  UserDevices(CredentialPeer& credentials, PolicyPeer& policy);

  absl::StatusOr<pb::ListTrustedDevicesResponse> ListTrustedDevices(
      const Caller& caller, const pb::ListTrustedDevicesRequest& request, absl::Time deadline);
  absl::StatusOr<pb::ForgetDeviceResponse> ForgetDevice(const Caller& caller,
                                                        const pb::ForgetDeviceRequest& request,
                                                        absl::Time deadline);

 private:
  // The caller may act on request's user (of the caller's directory): NOT_FOUND unknown user.
  absl::Status Authorize(const Caller& caller, absl::string_view user_id, absl::Time deadline);

  CredentialPeer& credentials_;
  PolicyPeer& policy_;
};

}  // namespace tally::orchestrator
