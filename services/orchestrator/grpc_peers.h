#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/server/peer_call.h"
#include "common/util/clock.h"
#include "services/orchestrator/peers.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::orchestrator {

using ::tally::PeerCallOptions;

// The peers over gRPC. A peer that cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED) or that
// answers a code the login does not expect from it becomes UNAVAILABLE "<peer> service
// unavailable"; the codes API.md defines for the call pass through.
class GrpcPolicyPeer final : public PolicyPeer {
 public:
  GrpcPolicyPeer(std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> stub,
                 PeerCallOptions options);
  absl::StatusOr<::tally::policy::v1::AuthSettings> GetAuthSettings(
      absl::string_view directory_id, absl::Time deadline) override;

 private:
  std::shared_ptr<::tally::policy::v1::PolicyService::StubInterface> stub_;
  const PeerCallOptions options_;
};

class GrpcCredentialPeer final : public CredentialPeer {
 public:
  GrpcCredentialPeer(
      std::shared_ptr<::tally::credential::v1::CredentialService::StubInterface> stub,
      PeerCallOptions options);
  absl::StatusOr<::tally::credential::v1::User> FindUser(absl::string_view directory_id,
                                                         absl::string_view username,
                                                         absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> GetUser(absl::string_view user_id,
                                                        absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> VerifyPassword(absl::string_view directory_id,
                                                               absl::string_view username,
                                                               absl::string_view password,
                                                               absl::Time deadline) override;
  absl::Status VerifyTotp(absl::string_view directory_id, absl::string_view user_id,
                          absl::string_view code, absl::Time deadline) override;
  absl::StatusOr<int> VerifyRecoveryCode(absl::string_view directory_id,
                                         absl::string_view user_id, absl::string_view code,
                                         absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::CreateDeviceResponse> CreateDevice(
      const ::tally::credential::v1::CreateDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::Device> VerifyDevice(
      const ::tally::credential::v1::VerifyDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::ListDevicesResponse> ListDevices(
      const ::tally::credential::v1::ListDevicesRequest& request, absl::Time deadline) override;
  absl::Status DeleteDevice(const ::tally::credential::v1::DeleteDeviceRequest& request,
                            absl::Time deadline) override;

 private:
  std::shared_ptr<::tally::credential::v1::CredentialService::StubInterface> stub_;
  const PeerCallOptions options_;
};

class GrpcPasskeyPeer final : public PasskeyPeer {
 public:
  GrpcPasskeyPeer(std::shared_ptr<::tally::passkey::v1::PasskeyService::StubInterface> stub,
                  PeerCallOptions options);
  absl::StatusOr<::tally::passkey::v1::StartAuthenticationResponse> StartAuthentication(
      absl::string_view directory_id, absl::string_view user_id, absl::Time deadline) override;
  absl::StatusOr<::tally::passkey::v1::FinishAuthenticationResponse> FinishAuthentication(
      absl::string_view directory_id, absl::string_view challenge_id,
      absl::string_view authentication_response_json, absl::Time deadline) override;

 private:
  std::shared_ptr<::tally::passkey::v1::PasskeyService::StubInterface> stub_;
  const PeerCallOptions options_;
};

// Settings cached for at most `ttl` per directory, so a burst of steps costs one call while a
// settings change still applies from the next step once `ttl` has passed (DESIGN.md §1 rule 5).
// Errors are not cached.
class CachingPolicyPeer final : public PolicyPeer {
 public:
  CachingPolicyPeer(PolicyPeer& inner, const Clock& clock, absl::Duration ttl);
  absl::StatusOr<::tally::policy::v1::AuthSettings> GetAuthSettings(
      absl::string_view directory_id, absl::Time deadline) override;

 private:
  struct Entry {
    ::tally::policy::v1::AuthSettings settings;
    absl::Time fetched;
  };
  PolicyPeer& inner_;
  const Clock& clock_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> cache_ ABSL_GUARDED_BY(mu_);
};

// Users as last seen, so that logins which check no password go on through an outage of the
// credential service (issue 9: a paused or unreachable credential service must not stop passkey
// logins). GetUser answers from the copy (at most `max_stale` old) only when the service is
// UNAVAILABLE; every answer the service gives refreshes it, NOT_FOUND forgets the user.
// Lookups by username and password checks always go to the service. max_stale 0 disables it.
// The price: for at most max_stale, a user removed or demoted right before an outage can still
// finish a passkey or OTP login with the roles last seen.
class StaleUserCredentialPeer final : public CredentialPeer {
 public:
  StaleUserCredentialPeer(CredentialPeer& inner, const Clock& clock, absl::Duration max_stale);
  absl::StatusOr<::tally::credential::v1::User> FindUser(absl::string_view directory_id,
                                                         absl::string_view username,
                                                         absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> GetUser(absl::string_view user_id,
                                                        absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::User> VerifyPassword(absl::string_view directory_id,
                                                               absl::string_view username,
                                                               absl::string_view password,
                                                               absl::Time deadline) override;
  absl::Status VerifyTotp(absl::string_view directory_id, absl::string_view user_id,
                          absl::string_view code, absl::Time deadline) override;
  absl::StatusOr<int> VerifyRecoveryCode(absl::string_view directory_id,
                                         absl::string_view user_id, absl::string_view code,
                                         absl::Time deadline) override;
  // Devices always go to the service.
  absl::StatusOr<::tally::credential::v1::CreateDeviceResponse> CreateDevice(
      const ::tally::credential::v1::CreateDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::Device> VerifyDevice(
      const ::tally::credential::v1::VerifyDeviceRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::credential::v1::ListDevicesResponse> ListDevices(
      const ::tally::credential::v1::ListDevicesRequest& request, absl::Time deadline) override;
  absl::Status DeleteDevice(const ::tally::credential::v1::DeleteDeviceRequest& request,
                            absl::Time deadline) override;

 private:
  struct Entry {
    ::tally::credential::v1::User user;
    absl::Time fetched;
  };
  void Remember(const absl::StatusOr<::tally::credential::v1::User>& user);

  CredentialPeer& inner_;
  const Clock& clock_;
  const absl::Duration max_stale_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> users_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::orchestrator
