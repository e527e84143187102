#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/credential/credential_manager.h"
#include "tally/credential/v1/credential.grpc.pb.h"

namespace tally::credential {

// gRPC adapter: authenticate the call, hand it to CredentialManager, convert the status.
// Nothing else lives here.
class CredentialServiceImpl final : public pb::CredentialService::Service {
 public:
  CredentialServiceImpl(CredentialManager& manager, std::shared_ptr<const Authenticator> auth);

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
  grpc::Status SetPassword(grpc::ServerContext* context, const pb::SetPasswordRequest* request,
                           pb::SetPasswordResponse* response) override;
  grpc::Status SetRoles(grpc::ServerContext* context, const pb::SetRolesRequest* request,
                        pb::SetRolesResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context, const pb::DeleteUserRequest* request,
                          pb::DeleteUserResponse* response) override;
  grpc::Status VerifyPassword(grpc::ServerContext* context,
                              const pb::VerifyPasswordRequest* request,
                              pb::VerifyPasswordResponse* response) override;

 private:
  CredentialManager& manager_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::credential
