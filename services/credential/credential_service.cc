#include "services/credential/credential_service.h"

#include "common/server/call_auth.h"

namespace tally::credential {

CredentialServiceImpl::CredentialServiceImpl(CredentialManager& manager,
                                             std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

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

}  // namespace tally::credential
