#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/credential/credential_manager.h"
#include "services/credential/device_manager.h"
#include "services/credential/recovery_code_manager.h"
#include "services/credential/totp_manager.h"
#include "tally/credential/v1/credential.grpc.pb.h"

namespace tally::credential {

// The logic of the second factors and remembered devices, beside CredentialManager's users.
struct FactorManagers {
  TotpManager& totp;
  RecoveryCodeManager& recovery_codes;
  DeviceManager& devices;
};

// gRPC adapter: authenticate the call, hand it to the manager of the RPC, convert the status.
// Nothing else lives here.
class CredentialServiceImpl final : public pb::CredentialService::Service {
 public:
  CredentialServiceImpl(CredentialManager& manager, FactorManagers factors,
                        std::shared_ptr<const Authenticator> auth);

  grpc::Status CreateUser(grpc::ServerContext* context, const pb::CreateUserRequest* request,
                          pb::CreateUserResponse* response) override;
  grpc::Status GetUser(grpc::ServerContext* context, const pb::GetUserRequest* request,
                       pb::GetUserResponse* response) override;
  grpc::Status FindUser(grpc::ServerContext* context, const pb::FindUserRequest* request,
                        pb::FindUserResponse* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context, const pb::ListUsersRequest* request,
                         pb::ListUsersResponse* response) override;
  grpc::Status UpdateContact(grpc::ServerContext* context, const pb::UpdateContactRequest* request,
                             pb::UpdateContactResponse* response) override;
  grpc::Status ConfirmContactChange(grpc::ServerContext* context,
                                    const pb::ConfirmContactChangeRequest* request,
                                    pb::ConfirmContactChangeResponse* response) override;
  grpc::Status SetPassword(grpc::ServerContext* context, const pb::SetPasswordRequest* request,
                           pb::SetPasswordResponse* response) override;
  grpc::Status SetRoles(grpc::ServerContext* context, const pb::SetRolesRequest* request,
                        pb::SetRolesResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context, const pb::DeleteUserRequest* request,
                          pb::DeleteUserResponse* response) override;
  grpc::Status VerifyPassword(grpc::ServerContext* context,
                              const pb::VerifyPasswordRequest* request,
                              pb::VerifyPasswordResponse* response) override;

  grpc::Status StartTotpEnrollment(grpc::ServerContext* context,
                                   const pb::StartTotpEnrollmentRequest* request,
                                   pb::StartTotpEnrollmentResponse* response) override;
  grpc::Status ConfirmTotpEnrollment(grpc::ServerContext* context,
                                     const pb::ConfirmTotpEnrollmentRequest* request,
                                     pb::ConfirmTotpEnrollmentResponse* response) override;
  grpc::Status DeleteTotp(grpc::ServerContext* context, const pb::DeleteTotpRequest* request,
                          pb::DeleteTotpResponse* response) override;
  grpc::Status VerifyTotp(grpc::ServerContext* context, const pb::VerifyTotpRequest* request,
                          pb::VerifyTotpResponse* response) override;
  grpc::Status GenerateRecoveryCodes(grpc::ServerContext* context,
                                     const pb::GenerateRecoveryCodesRequest* request,
                                     pb::GenerateRecoveryCodesResponse* response) override;
  grpc::Status VerifyRecoveryCode(grpc::ServerContext* context,
                                  const pb::VerifyRecoveryCodeRequest* request,
                                  pb::VerifyRecoveryCodeResponse* response) override;
  grpc::Status CreateDevice(grpc::ServerContext* context, const pb::CreateDeviceRequest* request,
                            pb::CreateDeviceResponse* response) override;
  grpc::Status VerifyDevice(grpc::ServerContext* context, const pb::VerifyDeviceRequest* request,
                            pb::VerifyDeviceResponse* response) override;
  grpc::Status ListDevices(grpc::ServerContext* context, const pb::ListDevicesRequest* request,
                      pb::ListDevicesResponse* response) override;
  grpc::Status DeleteDevice(grpc::ServerContext* context, const pb::DeleteDeviceRequest* request,
                      pb::DeleteDeviceResponse* response) override;
 private:
  CredentialManager& manager_;
  FactorManagers factors_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::credential
