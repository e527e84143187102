#include "services/orchestrator/orchestrator_service.h"

#include "absl/strings/numbers.h"
#include "common/server/call_auth.h"
#include "common/status/grpc_status.h"
#include "common/util/proto_time.h"

namespace tally::orchestrator {

LoginServiceImpl::LoginServiceImpl(LoginManager& manager, UserLockout& lockout,
                                   std::shared_ptr<const Authenticator> auth)
    : manager_(manager), lockout_(lockout), auth_(std::move(auth)) {}

grpc::Status LoginServiceImpl::StartLogin(grpc::ServerContext* context,
                                          const pb::StartLoginRequest* request,
                                          pb::StartLoginResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::StartLogin, *request, response);
}

grpc::Status LoginServiceImpl::SubmitPassword(grpc::ServerContext* context,
                                              const pb::SubmitPasswordRequest* request,
                                              pb::SubmitPasswordResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::SubmitPassword, *request, response);
}

grpc::Status LoginServiceImpl::SendOtp(grpc::ServerContext* context,
                                       const pb::SendOtpRequest* request,
                                       pb::SendOtpResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::SendOtp, *request, response);
}

grpc::Status LoginServiceImpl::VerifyOtp(grpc::ServerContext* context,
                                         const pb::VerifyOtpRequest* request,
                                         pb::VerifyOtpResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::VerifyOtp, *request, response);
}

grpc::Status LoginServiceImpl::StartPasskey(grpc::ServerContext* context,
                                            const pb::StartPasskeyRequest* request,
                                            pb::StartPasskeyResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::StartPasskey, *request, response);
}

grpc::Status LoginServiceImpl::FinishPasskey(grpc::ServerContext* context,
                                             const pb::FinishPasskeyRequest* request,
                                             pb::FinishPasskeyResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::FinishPasskey, *request, response);
}

grpc::Status LoginServiceImpl::SubmitTotp(grpc::ServerContext* context,
                                          const pb::SubmitTotpRequest* request,
                                          pb::SubmitTotpResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::SubmitTotp, *request, response);
}

grpc::Status LoginServiceImpl::SubmitRecoveryCode(grpc::ServerContext* context,
                                                  const pb::SubmitRecoveryCodeRequest* request,
                                                  pb::SubmitRecoveryCodeResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::SubmitRecoveryCode, *request,
                    response);
}

grpc::Status LoginServiceImpl::GetLogin(grpc::ServerContext* context,
                                        const pb::GetLoginRequest* request,
                                        pb::GetLoginResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::GetLogin, *request, response);
}

grpc::Status LoginServiceImpl::StartStepUp(grpc::ServerContext* context,
                                           const pb::StartStepUpRequest* request,
                                           pb::StartStepUpResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::StartStepUp, *request, response);
}

grpc::Status LoginServiceImpl::UnlockUser(grpc::ServerContext* context,
                                          const pb::UnlockUserRequest* request,
                                          pb::UnlockUserResponse* response) {
  return HandleCall(*auth_, *context, lockout_, &UserLockout::UnlockUser, *request, response);
}

grpc::Status LoginServiceImpl::RememberDevice(grpc::ServerContext* context,
                                              const pb::RememberDeviceRequest* request,
                                              pb::RememberDeviceResponse* response) {
  return HandleCall(*auth_, *context, manager_, &LoginManager::RememberDevice, *request, response);
}

SessionServiceImpl::SessionServiceImpl(SessionManager& sessions, UserSessions& user_sessions,
                                       UserDevices& user_devices,
                                       std::shared_ptr<const Authenticator> auth)
    : sessions_(sessions),
      user_sessions_(user_sessions),
      user_devices_(user_devices),
      auth_(std::move(auth)) {}

grpc::Status SessionServiceImpl::ValidateSession(grpc::ServerContext* context,
                                                 const pb::ValidateSessionRequest* request,
                                                 pb::ValidateSessionResponse* response) {
  if (auto caller = AuthenticateCallOf<pb::ValidateSessionRequest>(*auth_, *context);
      !caller.ok()) {
    return ToGrpcStatus(caller.status());
  }
  if (request->token().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("token is required"));
  }
  absl::StatusOr<SessionClaims> claims = sessions_.Validate(request->token());
  if (!claims.ok()) return ToGrpcStatus(claims.status());
  response->set_session_id(claims->session_id);
  response->set_user_id(claims->subject);
  response->set_directory_id(claims->directory_id);
  int level = 0;
  if (absl::SimpleAtoi(claims->acr, &level)) response->set_level(level);
  for (AuthMethod method : MethodsOf(*claims)) response->add_methods(method);
  for (const std::string& role : claims->roles) response->add_roles(role);
  *response->mutable_auth_time() = ToProtoTime(claims->auth_time);
  *response->mutable_expire_time() = ToProtoTime(claims->expires_at);
  return grpc::Status::OK;
}

grpc::Status SessionServiceImpl::GetJwks(grpc::ServerContext* context, const pb::GetJwksRequest*,
                                         pb::GetJwksResponse* response) {
  if (auto caller = AuthenticateCallOf<pb::GetJwksRequest>(*auth_, *context); !caller.ok()) {
    return ToGrpcStatus(caller.status());
  }
  response->set_jwks_json(sessions_.Jwks());
  return grpc::Status::OK;
}

grpc::Status SessionServiceImpl::RevokeSession(grpc::ServerContext* context,
                                               const pb::RevokeSessionRequest* request,
                                               pb::RevokeSessionResponse*) {
  if (auto caller = AuthenticateCallOf<pb::RevokeSessionRequest>(*auth_, *context);
      !caller.ok()) {
    return ToGrpcStatus(caller.status());
  }
  if (request->token().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("token is required"));
  }
  return ToGrpcStatus(sessions_.Revoke(request->token()));
}

grpc::Status SessionServiceImpl::RevokeUserSessions(grpc::ServerContext* context,
                                                    const pb::RevokeUserSessionsRequest* request,
                                                    pb::RevokeUserSessionsResponse* response) {
  return HandleCall(*auth_, *context, user_sessions_, &UserSessions::RevokeUserSessions, *request,
                    response);
}

grpc::Status SessionServiceImpl::ListTrustedDevices(grpc::ServerContext* context,
                                                    const pb::ListTrustedDevicesRequest* request,
                                                    pb::ListTrustedDevicesResponse* response) {
  return HandleCall(*auth_, *context, user_devices_, &UserDevices::ListTrustedDevices, *request,
                    response);
}

grpc::Status SessionServiceImpl::ForgetDevice(grpc::ServerContext* context,
                                              const pb::ForgetDeviceRequest* request,
                                              pb::ForgetDeviceResponse* response) {
  return HandleCall(*auth_, *context, user_devices_, &UserDevices::ForgetDevice, *request,
                    response);
}

}  // namespace tally::orchestrator
