#include "services/credential/credential_service.h"

#include "common/server/call_auth.h"

namespace tally::credential {

CredentialServiceImpl::CredentialServiceImpl(CredentialManager& manager, FactorManagers factors,
                                             std::shared_ptr<const Authenticator> auth)
    : manager_(manager), factors_(factors), auth_(std::move(auth)) {}

grpc::Status CredentialServiceImpl::CreateUser(grpc::ServerContext* context,
                                               const pb::CreateUserRequest* request,
                                               pb::CreateUserResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::CreateUser, *request,
                    response);
}

grpc::Status CredentialServiceImpl::GetUser(grpc::ServerContext* context,
                                            const pb::GetUserRequest* request,
                                            pb::GetUserResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::GetUser, *request,
                    response);
}

grpc::Status CredentialServiceImpl::FindUser(grpc::ServerContext* context,
                                             const pb::FindUserRequest* request,
                                             pb::FindUserResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::FindUser, *request,
                    response);
}

grpc::Status CredentialServiceImpl::ListUsers(grpc::ServerContext* context,
                                              const pb::ListUsersRequest* request,
                                              pb::ListUsersResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::ListUsers, *request,
                    response);
}

grpc::Status CredentialServiceImpl::UpdateContact(grpc::ServerContext* context,
                                                  const pb::UpdateContactRequest* request,
                                                  pb::UpdateContactResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::UpdateContact, *request,
                    response);
}

grpc::Status CredentialServiceImpl::ConfirmContactChange(
    grpc::ServerContext* context, const pb::ConfirmContactChangeRequest* request,
    pb::ConfirmContactChangeResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::ConfirmContactChange,
                    *request, response);
}

grpc::Status CredentialServiceImpl::SetPassword(grpc::ServerContext* context,
                                                const pb::SetPasswordRequest* request,
                                                pb::SetPasswordResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::SetPassword, *request,
                    response);
}

grpc::Status CredentialServiceImpl::SetRoles(grpc::ServerContext* context,
                                             const pb::SetRolesRequest* request,
                                             pb::SetRolesResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::SetRoles, *request,
                    response);
}

grpc::Status CredentialServiceImpl::DeleteUser(grpc::ServerContext* context,
                                               const pb::DeleteUserRequest* request,
                                               pb::DeleteUserResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::DeleteUser, *request,
                    response);
}

grpc::Status CredentialServiceImpl::VerifyPassword(grpc::ServerContext* context,
                                                   const pb::VerifyPasswordRequest* request,
                                                   pb::VerifyPasswordResponse* response) {
  return HandleCall(*auth_, *context, manager_, &CredentialManager::VerifyPassword, *request,
                    response);
}

grpc::Status CredentialServiceImpl::StartTotpEnrollment(
    grpc::ServerContext* context, const pb::StartTotpEnrollmentRequest* request,
    pb::StartTotpEnrollmentResponse* response) {
  return HandleCall(*auth_, *context, factors_.totp, &TotpManager::StartTotpEnrollment, *request,
                    response);
}

grpc::Status CredentialServiceImpl::ConfirmTotpEnrollment(
    grpc::ServerContext* context, const pb::ConfirmTotpEnrollmentRequest* request,
    pb::ConfirmTotpEnrollmentResponse* response) {
  return HandleCall(*auth_, *context, factors_.totp, &TotpManager::ConfirmTotpEnrollment, *request,
                    response);
}

grpc::Status CredentialServiceImpl::DeleteTotp(grpc::ServerContext* context,
                                               const pb::DeleteTotpRequest* request,
                                               pb::DeleteTotpResponse* response) {
  return HandleCall(*auth_, *context, factors_.totp, &TotpManager::DeleteTotp, *request, response);
}

grpc::Status CredentialServiceImpl::VerifyTotp(grpc::ServerContext* context,
                                               const pb::VerifyTotpRequest* request,
                                               pb::VerifyTotpResponse* response) {
  return HandleCall(*auth_, *context, factors_.totp, &TotpManager::VerifyTotp, *request, response);
}

grpc::Status CredentialServiceImpl::GenerateRecoveryCodes(
    grpc::ServerContext* context, const pb::GenerateRecoveryCodesRequest* request,
    pb::GenerateRecoveryCodesResponse* response) {
  return HandleCall(*auth_, *context, factors_.recovery_codes,
                    &RecoveryCodeManager::GenerateRecoveryCodes, *request, response);
}

grpc::Status CredentialServiceImpl::VerifyRecoveryCode(grpc::ServerContext* context,
                                                       const pb::VerifyRecoveryCodeRequest* request,
                                                       pb::VerifyRecoveryCodeResponse* response) {
  return HandleCall(*auth_, *context, factors_.recovery_codes,
                    &RecoveryCodeManager::VerifyRecoveryCode, *request, response);
}

grpc::Status CredentialServiceImpl::CreateDevice(grpc::ServerContext* context,
                                                 const pb::CreateDeviceRequest* request,
                                                 pb::CreateDeviceResponse* response) {
  return HandleCall(*auth_, *context, factors_.devices, &DeviceManager::CreateDevice, *request,
                    response);
}

grpc::Status CredentialServiceImpl::VerifyDevice(grpc::ServerContext* context,
                                                 const pb::VerifyDeviceRequest* request,
                                                 pb::VerifyDeviceResponse* response) {
  return HandleCall(*auth_, *context, factors_.devices, &DeviceManager::VerifyDevice, *request,
                    response);
}

grpc::Status CredentialServiceImpl::ListDevices(grpc::ServerContext* context,
                                                const pb::ListDevicesRequest* request,
                                                pb::ListDevicesResponse* response) {
  return HandleCall(*auth_, *context, factors_.devices, &DeviceManager::ListDevices, *request,
                    response);
}

grpc::Status CredentialServiceImpl::DeleteDevice(grpc::ServerContext* context,
                                                 const pb::DeleteDeviceRequest* request,
                                                 pb::DeleteDeviceResponse* response) {
  return HandleCall(*auth_, *context, factors_.devices, &DeviceManager::DeleteDevice, *request,
                    response);
}

}  // namespace tally::credential
