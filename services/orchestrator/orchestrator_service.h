#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/orchestrator/login_manager.h"
#include "services/orchestrator/session_manager.h"
#include "services/orchestrator/trusted_devices.h"
#include "services/orchestrator/user_lockout.h"
#include "services/orchestrator/user_sessions.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"

namespace tally::orchestrator {

// gRPC adapters: the caller's deadline in, LoginManager / SessionManager, the status out.
// Every RPC here is for login clients (API.md "Cluster callers": any certificate from the CA
// under mutual TLS), so calls carry no credentials; RevokeSession takes the token itself as
// proof. Each call still passes the Authenticator: its cluster rule (OrchestratorCallers), and
// credentials, when a call presents any, must be valid. UnlockUser is the exception: an admin's
// token or the platform key (UserLockout).
class LoginServiceImpl final : public pb::LoginService::Service {
 public:
  LoginServiceImpl(LoginManager& manager, UserLockout& lockout,
                   std::shared_ptr<const Authenticator> auth);

  grpc::Status StartLogin(grpc::ServerContext* context, const pb::StartLoginRequest* request,
                          pb::StartLoginResponse* response) override;
  grpc::Status SubmitPassword(grpc::ServerContext* context,
                              const pb::SubmitPasswordRequest* request,
                              pb::SubmitPasswordResponse* response) override;
  grpc::Status SendOtp(grpc::ServerContext* context, const pb::SendOtpRequest* request,
                       pb::SendOtpResponse* response) override;
  grpc::Status VerifyOtp(grpc::ServerContext* context, const pb::VerifyOtpRequest* request,
                         pb::VerifyOtpResponse* response) override;
  grpc::Status StartPasskey(grpc::ServerContext* context, const pb::StartPasskeyRequest* request,
                            pb::StartPasskeyResponse* response) override;
  grpc::Status FinishPasskey(grpc::ServerContext* context,
                             const pb::FinishPasskeyRequest* request,
                             pb::FinishPasskeyResponse* response) override;
  grpc::Status SubmitTotp(grpc::ServerContext* context, const pb::SubmitTotpRequest* request,
                          pb::SubmitTotpResponse* response) override;
  grpc::Status SubmitRecoveryCode(grpc::ServerContext* context,
                                  const pb::SubmitRecoveryCodeRequest* request,
                                  pb::SubmitRecoveryCodeResponse* response) override;
  grpc::Status GetLogin(grpc::ServerContext* context, const pb::GetLoginRequest* request,
                        pb::GetLoginResponse* response) override;
  grpc::Status StartStepUp(grpc::ServerContext* context, const pb::StartStepUpRequest* request,
                           pb::StartStepUpResponse* response) override;
  grpc::Status UnlockUser(grpc::ServerContext* context, const pb::UnlockUserRequest* request,
                          pb::UnlockUserResponse* response) override;
  grpc::Status RememberDevice(grpc::ServerContext* context,
                              const pb::RememberDeviceRequest* request,
                              pb::RememberDeviceResponse* response) override;

 private:
  LoginManager& manager_;
  UserLockout& lockout_;
  std::shared_ptr<const Authenticator> auth_;
};

class SessionServiceImpl final : public pb::SessionService::Service {
 public:
  SessionServiceImpl(SessionManager& sessions, UserSessions& user_sessions,
                     UserDevices& user_devices, std::shared_ptr<const Authenticator> auth);

  grpc::Status ValidateSession(grpc::ServerContext* context,
                               const pb::ValidateSessionRequest* request,
                               pb::ValidateSessionResponse* response) override;
  grpc::Status GetJwks(grpc::ServerContext* context, const pb::GetJwksRequest* request,
                       pb::GetJwksResponse* response) override;
  grpc::Status RevokeSession(grpc::ServerContext* context,
                             const pb::RevokeSessionRequest* request,
                             pb::RevokeSessionResponse* response) override;
  grpc::Status RevokeUserSessions(grpc::ServerContext* context,
                                  const pb::RevokeUserSessionsRequest* request,
                                  pb::RevokeUserSessionsResponse* response) override;
  grpc::Status ListTrustedDevices(grpc::ServerContext* context,
                                  const pb::ListTrustedDevicesRequest* request,
                                  pb::ListTrustedDevicesResponse* response) override;
  grpc::Status ForgetDevice(grpc::ServerContext* context, const pb::ForgetDeviceRequest* request,
                            pb::ForgetDeviceResponse* response) override;

 private:
  SessionManager& sessions_;
  UserSessions& user_sessions_;
  UserDevices& user_devices_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::orchestrator
