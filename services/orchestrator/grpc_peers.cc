#include "services/orchestrator/grpc_peers.h"

#include <initializer_list>

#include <grpcpp/client_context.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/peer_call.h"
#include "common/status/grpc_status.h"

namespace tally::orchestrator {
namespace {

namespace credpb = ::tally::credential::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;

using ::tally::CallPeer;

}  // namespace

GrpcPolicyPeer::GrpcPolicyPeer(std::shared_ptr<polpb::PolicyService::StubInterface> stub,
                               PeerCallOptions options)
    : stub_(std::move(stub)), options_(options) {}

absl::StatusOr<polpb::AuthSettings> GrpcPolicyPeer::GetAuthSettings(
    absl::string_view directory_id, absl::Time deadline) {
  polpb::GetAuthSettingsRequest request;
  request.set_directory_id(std::string(directory_id));
  polpb::GetAuthSettingsResponse response;
  absl::Status s = CallPeer("policy", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->GetAuthSettings(context, request, &response);
                          });
  if (absl::IsNotFound(s)) return absl::NotFoundError("unknown directory");
  if (!s.ok()) return s;
  return response.settings();
}

GrpcCredentialPeer::GrpcCredentialPeer(
    std::shared_ptr<credpb::CredentialService::StubInterface> stub, PeerCallOptions options)
    : stub_(std::move(stub)), options_(options) {}

absl::StatusOr<credpb::User> GrpcCredentialPeer::FindUser(absl::string_view directory_id,
                                                          absl::string_view username,
                                                          absl::Time deadline) {
  credpb::FindUserRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_username(std::string(username));
  credpb::FindUserResponse response;
  absl::Status s = CallPeer("credential", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->FindUser(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response.user();
}

absl::StatusOr<credpb::User> GrpcCredentialPeer::GetUser(absl::string_view user_id,
                                                         absl::Time deadline) {
  credpb::GetUserRequest request;
  request.set_user_id(std::string(user_id));
  credpb::GetUserResponse response;
  absl::Status s = CallPeer("credential", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->GetUser(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response.user();
}

absl::StatusOr<credpb::User> GrpcCredentialPeer::VerifyPassword(absl::string_view directory_id,
                                                                absl::string_view username,
                                                                absl::string_view password,
                                                                absl::Time deadline) {
  credpb::VerifyPasswordRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_username(std::string(username));
  request.set_password(std::string(password));
  credpb::VerifyPasswordResponse response;
  // Not retried: each try is a password guess (and a slow hash). RESOURCE_EXHAUSTED (every
  // hashing slot and the queue behind them taken) reaches the caller as such: overload is
  // answered quickly and honestly, and the caller backs off and retries.
  absl::Status s =
      CallPeer("credential", options_, deadline, /*idempotent=*/false,
             {absl::StatusCode::kUnauthenticated, absl::StatusCode::kInvalidArgument,
              absl::StatusCode::kResourceExhausted},
             [&](grpc::ClientContext* context) {
               return stub_->VerifyPassword(context, request, &response);
             });
  if (absl::IsUnauthenticated(s)) return absl::UnauthenticatedError("wrong password");
  if (!s.ok()) return s;
  return response.user();
}

absl::Status GrpcCredentialPeer::VerifyTotp(absl::string_view directory_id,
                                            absl::string_view user_id, absl::string_view code,
                                            absl::Time deadline) {
  credpb::VerifyTotpRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_user_id(std::string(user_id));
  request.set_code(std::string(code));
  credpb::VerifyTotpResponse response;
  // Not retried: each try is a guess, and a right code used once is a replay the second time.
  absl::Status s =
      CallPeer("credential", options_, deadline, /*idempotent=*/false,
               {absl::StatusCode::kUnauthenticated, absl::StatusCode::kNotFound,
                absl::StatusCode::kInvalidArgument, absl::StatusCode::kResourceExhausted},
               [&](grpc::ClientContext* context) {
                 return stub_->VerifyTotp(context, request, &response);
               });
  if (absl::IsUnauthenticated(s)) return absl::UnauthenticatedError("wrong code");
  return s;
}

absl::StatusOr<int> GrpcCredentialPeer::VerifyRecoveryCode(absl::string_view directory_id,
                                                           absl::string_view user_id,
                                                           absl::string_view code,
                                                           absl::Time deadline) {
  credpb::VerifyRecoveryCodeRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_user_id(std::string(user_id));
  request.set_code(std::string(code));
  credpb::VerifyRecoveryCodeResponse response;
  // Not retried: a retry of a code that was used would be refused as used.
  absl::Status s =
      CallPeer("credential", options_, deadline, /*idempotent=*/false,
               {absl::StatusCode::kUnauthenticated, absl::StatusCode::kNotFound,
                absl::StatusCode::kInvalidArgument, absl::StatusCode::kResourceExhausted},
               [&](grpc::ClientContext* context) {
                 return stub_->VerifyRecoveryCode(context, request, &response);
               });
  if (absl::IsUnauthenticated(s)) return absl::UnauthenticatedError("wrong code");
  if (!s.ok()) return s;
  return response.codes_left();
}

absl::StatusOr<credpb::CreateDeviceResponse> GrpcCredentialPeer::CreateDevice(
    const credpb::CreateDeviceRequest& request, absl::Time deadline) {
  credpb::CreateDeviceResponse response;
  // Not retried: a retry after a lost answer would remember the device twice.
  absl::Status s = CallPeer("credential", options_, deadline, /*idempotent=*/false,
                          {absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->CreateDevice(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<credpb::Device> GrpcCredentialPeer::VerifyDevice(
    const credpb::VerifyDeviceRequest& request, absl::Time deadline) {
  credpb::VerifyDeviceResponse response;
  absl::Status s = CallPeer("credential", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kUnauthenticated, absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->VerifyDevice(context, request, &response);
                          });
  if (absl::IsUnauthenticated(s)) return absl::UnauthenticatedError("not a remembered device");
  if (!s.ok()) return s;
  return response.device();
}

absl::StatusOr<credpb::ListDevicesResponse> GrpcCredentialPeer::ListDevices(
    const credpb::ListDevicesRequest& request, absl::Time deadline) {
  credpb::ListDevicesResponse response;
  absl::Status s = CallPeer("credential", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->ListDevices(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response;
}

absl::Status GrpcCredentialPeer::DeleteDevice(const credpb::DeleteDeviceRequest& request,
                                              absl::Time deadline) {
  credpb::DeleteDeviceResponse response;
  return CallPeer("credential", options_, deadline, /*idempotent=*/true,
                  {absl::StatusCode::kNotFound, absl::StatusCode::kInvalidArgument},
                  [&](grpc::ClientContext* context) {
                    return stub_->DeleteDevice(context, request, &response);
                  });
}

GrpcPasskeyPeer::GrpcPasskeyPeer(std::shared_ptr<pkpb::PasskeyService::StubInterface> stub,
                                 PeerCallOptions options)
    : stub_(std::move(stub)), options_(options) {}

absl::StatusOr<pkpb::StartAuthenticationResponse> GrpcPasskeyPeer::StartAuthentication(
    absl::string_view directory_id, absl::string_view user_id, absl::Time deadline) {
  pkpb::StartAuthenticationRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_user_id(std::string(user_id));
  pkpb::StartAuthenticationResponse response;
  // Creates a challenge, but a repeated one is harmless (it expires unused): safe to retry.
  absl::Status s = CallPeer("passkey", options_, deadline, /*idempotent=*/true,
                          {absl::StatusCode::kFailedPrecondition, absl::StatusCode::kNotFound,
                           absl::StatusCode::kInvalidArgument},
                          [&](grpc::ClientContext* context) {
                            return stub_->StartAuthentication(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<pkpb::FinishAuthenticationResponse> GrpcPasskeyPeer::FinishAuthentication(
    absl::string_view directory_id, absl::string_view challenge_id,
    absl::string_view authentication_response_json, absl::Time deadline) {
  pkpb::FinishAuthenticationRequest request;
  request.set_directory_id(std::string(directory_id));
  request.set_challenge_id(std::string(challenge_id));
  request.set_authentication_response_json(std::string(authentication_response_json));
  pkpb::FinishAuthenticationResponse response;
  absl::Status s = CallPeer("passkey", options_, deadline, /*idempotent=*/false,
                          {absl::StatusCode::kNotFound, absl::StatusCode::kUnauthenticated,
                           absl::StatusCode::kInvalidArgument,
                           absl::StatusCode::kFailedPrecondition},
                          [&](grpc::ClientContext* context) {
                            return stub_->FinishAuthentication(context, request, &response);
                          });
  if (!s.ok()) return s;
  return response;
}

CachingPolicyPeer::CachingPolicyPeer(PolicyPeer& inner, const Clock& clock, absl::Duration ttl)
    : inner_(inner), clock_(clock), ttl_(ttl) {}

absl::StatusOr<polpb::AuthSettings> CachingPolicyPeer::GetAuthSettings(
    absl::string_view directory_id, absl::Time deadline) {
  const absl::Time now = clock_.Now();
  if (ttl_ > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(directory_id);
    if (it != cache_.end() && now - it->second.fetched < ttl_ && now >= it->second.fetched) {
      return it->second.settings;
    }
  }
  absl::StatusOr<polpb::AuthSettings> settings = inner_.GetAuthSettings(directory_id, deadline);
  if (!settings.ok() || ttl_ <= absl::ZeroDuration()) return settings;
  absl::MutexLock lock(&mu_);
  // Bounded: stale entries only cost a refetch, so dropping them all is fine.
  if (cache_.size() >= 10000) cache_.clear();
  cache_[std::string(directory_id)] = Entry{*settings, now};
  return settings;
}

StaleUserCredentialPeer::StaleUserCredentialPeer(CredentialPeer& inner, const Clock& clock,
                                                 absl::Duration max_stale)
    : inner_(inner), clock_(clock), max_stale_(max_stale) {}

void StaleUserCredentialPeer::Remember(const absl::StatusOr<credpb::User>& user) {
  if (!user.ok() || user->user_id().empty() || max_stale_ <= absl::ZeroDuration()) return;
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (users_.size() >= 100000) {
    // Bounded: drop what is too old to be served anyway, everything if that is not enough.
    for (auto it = users_.begin(); it != users_.end();) {
      if (now - it->second.fetched > max_stale_) {
        users_.erase(it++);
      } else {
        ++it;
      }
    }
    if (users_.size() >= 100000) users_.clear();
  }
  users_[user->user_id()] = Entry{*user, now};
}

absl::StatusOr<credpb::User> StaleUserCredentialPeer::FindUser(absl::string_view directory_id,
                                                               absl::string_view username,
                                                               absl::Time deadline) {
  absl::StatusOr<credpb::User> user = inner_.FindUser(directory_id, username, deadline);
  Remember(user);
  return user;
}

absl::StatusOr<credpb::User> StaleUserCredentialPeer::GetUser(absl::string_view user_id,
                                                              absl::Time deadline) {
  absl::StatusOr<credpb::User> user = inner_.GetUser(user_id, deadline);
  if (user.ok()) {
    Remember(user);
  } else if (absl::IsNotFound(user.status())) {
    absl::MutexLock lock(&mu_);
    users_.erase(user_id);
  } else if (absl::IsUnavailable(user.status()) && max_stale_ > absl::ZeroDuration()) {
    const absl::Time now = clock_.Now();
    absl::MutexLock lock(&mu_);
    auto it = users_.find(user_id);
    if (it != users_.end() && now >= it->second.fetched && now - it->second.fetched <= max_stale_) {
      return it->second.user;
    }
  }
  return user;
}

absl::StatusOr<credpb::User> StaleUserCredentialPeer::VerifyPassword(
    absl::string_view directory_id, absl::string_view username, absl::string_view password,
    absl::Time deadline) {
  absl::StatusOr<credpb::User> user =
      inner_.VerifyPassword(directory_id, username, password, deadline);
  Remember(user);
  return user;
}

// The factor checks are never answered from a copy: they go to the service, or fail.
absl::Status StaleUserCredentialPeer::VerifyTotp(absl::string_view directory_id,
                                                 absl::string_view user_id,
                                                 absl::string_view code, absl::Time deadline) {
  return inner_.VerifyTotp(directory_id, user_id, code, deadline);
}

absl::StatusOr<int> StaleUserCredentialPeer::VerifyRecoveryCode(absl::string_view directory_id,
                                                                absl::string_view user_id,
                                                                absl::string_view code,
                                                                absl::Time deadline) {
  return inner_.VerifyRecoveryCode(directory_id, user_id, code, deadline);
}

absl::StatusOr<credpb::CreateDeviceResponse> StaleUserCredentialPeer::CreateDevice(
    const credpb::CreateDeviceRequest& request, absl::Time deadline) {
  return inner_.CreateDevice(request, deadline);
}

absl::StatusOr<credpb::Device> StaleUserCredentialPeer::VerifyDevice(
    const credpb::VerifyDeviceRequest& request, absl::Time deadline) {
  return inner_.VerifyDevice(request, deadline);
}

absl::StatusOr<credpb::ListDevicesResponse> StaleUserCredentialPeer::ListDevices(
    const credpb::ListDevicesRequest& request, absl::Time deadline) {
  return inner_.ListDevices(request, deadline);
}

absl::Status StaleUserCredentialPeer::DeleteDevice(const credpb::DeleteDeviceRequest& request,
                                                   absl::Time deadline) {
  return inner_.DeleteDevice(request, deadline);
}

}  // namespace tally::orchestrator
