#pragma once

// In-process stand-ins for the services a login calls (PolicyPeer, CredentialPeer, OtpPeer,
// PasskeyPeer), for LoginManager's unit tests (the session revocations' is common/auth's
// InMemoryRevocationStore). Thread-safe.

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/util/clock.h"
#include "services/orchestrator/peers.h"

namespace tally::orchestrator::testing {

// Settings per directory; NOT_FOUND for others, or `status` for every call when set.
class FakePolicy final : public PolicyPeer {
 public:
  absl::StatusOr<::tally::policy::v1::AuthSettings> GetAuthSettings(absl::string_view directory_id,
                                                                    absl::Time deadline) override;
  void Set(const std::string& directory_id, ::tally::policy::v1::AuthSettings settings);
  void SetStatus(absl::Status status);

 private:
  absl::Mutex mu_;
  std::map<std::string, ::tally::policy::v1::AuthSettings> settings_ ABSL_GUARDED_BY(mu_);
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// Settings of `required` level with these points per method.
::tally::policy::v1::AuthSettings Settings(int required, int password, int sms, int email,
                                           int passkey);

// Users by id and by username (any ASCII case), with their passwords in the clear.
class FakeCredentials final : public CredentialPeer {
 public:
  // An empty password: the user has none.
  void Add(const std::string& directory_id, const std::string& user_id, const std::string& username,
           const std::string& password, const std::string& phone, const std::string& email,
           std::vector<std::string> roles = {"user"});

  absl::StatusOr<::tally::credential::v1::User> FindUser(absl::string_view directory_id,
                                                         absl::string_view username,
                                                         absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> GetUser(absl::string_view user_id,
                                                        absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> VerifyPassword(absl::string_view directory_id,
                                                               absl::string_view username,
                                                               absl::string_view password,
                                                               absl::Time deadline) override;

  // The credential service's TOTP and recovery-code checks: the user's app shows `code` (and
  // has_totp is set); a code is accepted once per user (a second use is a replay).
  void SetTotpCode(const std::string& user_id, const std::string& code);
  // A new set of recovery codes (recovery_codes_left is set), each accepted once.
  void SetRecoveryCodes(const std::string& user_id, std::vector<std::string> codes);
  absl::Status VerifyTotp(absl::string_view directory_id, absl::string_view user_id,
                          absl::string_view code, absl::Time deadline) override;
  absl::StatusOr<int> VerifyRecoveryCode(absl::string_view directory_id,
                                         absl::string_view user_id, absl::string_view code,
                                         absl::Time deadline) override;

  // Remembered devices as the credential service keeps them: token "dvt_<n>", bound to user and
  // directory, expiring max_age after creation on `clock` (set_clock; the system clock by
  // default); another user's, expired, forgotten or unknown token: UNAUTHENTICATED alike.
  absl::StatusOr<::tally::credential::v1::CreateDeviceResponse> CreateDevice(
      const ::tally::credential::v1::CreateDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::Device> VerifyDevice(
      const ::tally::credential::v1::VerifyDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::ListDevicesResponse> ListDevices(
      const ::tally::credential::v1::ListDevicesRequest& request, absl::Time deadline) override;
  absl::Status DeleteDevice(const ::tally::credential::v1::DeleteDeviceRequest& request,
                            absl::Time deadline) override;
  void set_clock(const Clock& clock) { clock_ = &clock; }
  // A password change forgets the user's devices (rule 9).
  void ForgetDevicesOf(const std::string& user_id);

  std::atomic<int> verify_calls{0};
  std::atomic<int> get_user_calls{0};
  std::atomic<int> totp_calls{0};
  std::atomic<int> recovery_calls{0};
  std::atomic<int> verify_device_calls{0};
  // When set, what every VerifyPassword answers (a peer down).
  absl::Status verify_status;
  // When set, what every VerifyTotp and VerifyRecoveryCode answers.
  absl::Status factor_status;

 private:
  struct StoredDevice {
    ::tally::credential::v1::Device device;
    std::string token;
  };
  const Clock* clock_ = &SystemClock::Get();
  absl::Mutex mu_;
  int device_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<StoredDevice> devices_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ::tally::credential::v1::User> users_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> totp_codes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> used_totp_ ABSL_GUARDED_BY(mu_);  // "<user id>/<code>"
  std::map<std::string, std::set<std::string>> recovery_codes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> passwords_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> by_name_ ABSL_GUARDED_BY(mu_);
};

// The OTP service's rules as a login sees them: a 30 s cooldown per user (or no-recipient key)
// and channel with the service's words, 5 attempts per code, a resend replacing the previous
// code, and codes to nobody (SendCodeRequest.no_recipient) throttled alike, never delivered and
// never accepted. Codes are "1<counter>" padded to 6 digits; tests read them back by
// destination.
class FakeOtp final : public OtpPeer {
 public:
  explicit FakeOtp(const Clock& clock);

  absl::StatusOr<::tally::otp::v1::SendCodeResponse> SendCode(
      const ::tally::otp::v1::SendCodeRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> VerifyCode(
      const ::tally::otp::v1::VerifyCodeRequest& request, absl::Time deadline) override;
  // The last code delivered to `destination`.
  std::string CodeFor(const std::string& destination);
  // Every SendCode request, refused or not.
  std::vector<::tally::otp::v1::SendCodeRequest> Requests();
  absl::Status SendNotice(const ::tally::otp::v1::SendNoticeRequest& request,
                          absl::Time deadline) override;
  // Every notice sent (not those refused by notice_status).
  std::vector<::tally::otp::v1::SendNoticeRequest> Notices();
  // When set, what every SendNotice answers (nothing is sent).
  absl::Status notice_status;

  // Destinations codes were delivered to, in order.
  std::vector<std::string> sends;
  int verifies = 0;
  int accepted = 0;

 private:
  struct Challenge {
    std::string owner;  // user id, or the no-recipient key
    ::tally::otp::v1::Channel channel;
    std::string code;  // empty for a code to nobody: no code matches
    int attempts_left;
    bool used;
  };
  const Clock& clock_;
  absl::Mutex mu_;
  int counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Challenge> challenges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_code_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_send_ ABSL_GUARDED_BY(mu_);
  std::vector<::tally::otp::v1::SendCodeRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<::tally::otp::v1::SendNoticeRequest> notices_ ABSL_GUARDED_BY(mu_);
};

// A software authenticator stand-in: the response "assert:<user id>" verifies when that user
// has a passkey and the challenge allows the user (any user for a discoverable one).
// FinishAuthentication takes "assert:<user id>" (a user-verified assertion of that user's
// passkey) or "touch:<user id>" (the same with UV=0, as the passkey service reports when it does
// not require user verification).
class FakePasskeys final : public PasskeyPeer {
 public:
  // `synced`: the passkey is backed up (the assertion's BS flag).
  void AddPasskey(const std::string& user_id, bool synced = false);

  absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> StartAuthentication(
      absl::string_view directory_id, absl::string_view user_id, absl::Time deadline) override;
  absl::StatusOr<::tally::passkey::v1::FinishAuthenticationResponse> FinishAuthentication(
      absl::string_view directory_id, absl::string_view challenge_id,
      absl::string_view authentication_response_json, absl::Time deadline) override;

  int starts = 0;
  // When set, what every StartAuthentication answers.
  absl::Status status;

 private:
  absl::Mutex mu_;
  int counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> with_passkey_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> synced_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> challenges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::orchestrator::testing
