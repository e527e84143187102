#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/otp/otp_peer.h"
#include "tally/credential/v1/credential.pb.h"
#include "tally/passkey/v1/passkey.pb.h"
#include "tally/policy/v1/policy.pb.h"

// The services a login talks to, as the login logic sees them. Every call takes the caller's
// deadline (absl::InfiniteFuture() when it has none); implementations add their own per-call
// limit on top. Errors are the peers' own statuses (API.md), except that a peer that cannot be
// reached answers UNAVAILABLE "<peer> service unavailable".
namespace tally::orchestrator {

class PolicyPeer {
 public:
  virtual ~PolicyPeer() = default;
  // NOT_FOUND unknown directory.
  virtual absl::StatusOr<::tally::policy::v1::AuthSettings> GetAuthSettings(
      absl::string_view directory_id, absl::Time deadline) = 0;
};

class CredentialPeer {
 public:
  virtual ~CredentialPeer() = default;
  // NOT_FOUND unknown username.
  virtual absl::StatusOr<::tally::credential::v1::User> FindUser(absl::string_view directory_id,
                                                                 absl::string_view username,
                                                                 absl::Time deadline) = 0;
  // NOT_FOUND unknown user.
  virtual absl::StatusOr<::tally::credential::v1::User> GetUser(absl::string_view user_id,
                                                                absl::Time deadline) = 0;
  // UNAUTHENTICATED wrong password or unknown username (alike, same time).
  virtual absl::StatusOr<::tally::credential::v1::User> VerifyPassword(
      absl::string_view directory_id, absl::string_view username, absl::string_view password,
      absl::Time deadline) = 0;
  // OK when `code` is the user's current TOTP code (a step not used before). UNAUTHENTICATED a
  // wrong or replayed code, or no app enrolled (alike); NOT_FOUND unknown user;
  // RESOURCE_EXHAUSTED the credential service's own per-user throttle.
  virtual absl::Status VerifyTotp(absl::string_view directory_id, absl::string_view user_id,
                                  absl::string_view code, absl::Time deadline) = 0;
  // Uses one recovery code; answers the user's unused codes left. UNAUTHENTICATED a wrong or
  // used code (alike); NOT_FOUND unknown user; RESOURCE_EXHAUSTED throttled.
  virtual absl::StatusOr<int> VerifyRecoveryCode(absl::string_view directory_id,
                                                 absl::string_view user_id,
                                                 absl::string_view code, absl::Time deadline) = 0;

  // Remembered devices (the credential service owns them; API.md "v1 additions").
  // NOT_FOUND unknown user.
  virtual absl::StatusOr<::tally::credential::v1::CreateDeviceResponse> CreateDevice(
      const ::tally::credential::v1::CreateDeviceRequest& request, absl::Time deadline) = 0;
  // UNAUTHENTICATED for a token that is not this user's unexpired device (all alike).
  virtual absl::StatusOr<::tally::credential::v1::Device> VerifyDevice(
      const ::tally::credential::v1::VerifyDeviceRequest& request, absl::Time deadline) = 0;
  virtual absl::StatusOr<::tally::credential::v1::ListDevicesResponse> ListDevices(
      const ::tally::credential::v1::ListDevicesRequest& request, absl::Time deadline) = 0;
  // NOT_FOUND no such device for this user.
  virtual absl::Status DeleteDevice(const ::tally::credential::v1::DeleteDeviceRequest& request,
                                    absl::Time deadline) = 0;
};

// The OTP service's peer is tally::OtpPeer (common/otp), shared with the credential service.

class PasskeyPeer {
 public:
  virtual ~PasskeyPeer() = default;
  // Empty user_id: a discoverable ceremony. FAILED_PRECONDITION the user has no passkey — the
  // orchestrator's only way to learn whether a user has one (ListPasskeys is not a cluster
  // call), see LoginManager.
  virtual absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> StartAuthentication(
      absl::string_view directory_id, absl::string_view user_id, absl::Time deadline) = 0;
  // NOT_FOUND unknown, used or expired challenge; UNAUTHENTICATED the assertion failed.
  virtual absl::StatusOr<::tally::passkey::v1::FinishAuthenticationResponse>
  FinishAuthentication(absl::string_view directory_id, absl::string_view challenge_id,
                       absl::string_view authentication_response_json, absl::Time deadline) = 0;
};

}  // namespace tally::orchestrator
