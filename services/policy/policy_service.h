#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/policy/policy_manager.h"
#include "tally/policy/v1/policy.grpc.pb.h"

namespace tally::policy {

// gRPC adapters: authenticate the call, hand it to PolicyManager, convert the status. Nothing
// else lives here.
class DirectoryServiceImpl final : public pb::DirectoryService::Service {
 public:
  DirectoryServiceImpl(PolicyManager& manager, std::shared_ptr<const Authenticator> auth);

  grpc::Status CreateDirectory(grpc::ServerContext* context,
                               const pb::CreateDirectoryRequest* request,
                               pb::CreateDirectoryResponse* response) override;
  grpc::Status GetDirectory(grpc::ServerContext* context, const pb::GetDirectoryRequest* request,
                            pb::GetDirectoryResponse* response) override;
  grpc::Status ListDirectories(grpc::ServerContext* context,
                               const pb::ListDirectoriesRequest* request,
                               pb::ListDirectoriesResponse* response) override;

 private:
  PolicyManager& manager_;
  std::shared_ptr<const Authenticator> auth_;
};

class PolicyServiceImpl final : public pb::PolicyService::Service {
 public:
  PolicyServiceImpl(PolicyManager& manager, std::shared_ptr<const Authenticator> auth);

  grpc::Status GetAuthSettings(grpc::ServerContext* context,
                               const pb::GetAuthSettingsRequest* request,
                               pb::GetAuthSettingsResponse* response) override;
  grpc::Status UpdateAuthSettings(grpc::ServerContext* context,
                                  const pb::UpdateAuthSettingsRequest* request,
                                  pb::UpdateAuthSettingsResponse* response) override;
  grpc::Status Evaluate(grpc::ServerContext* context, const pb::EvaluateRequest* request,
                        pb::EvaluateResponse* response) override;
  grpc::Status ListAuditEvents(grpc::ServerContext* context,
                               const pb::ListAuditEventsRequest* request,
                               pb::ListAuditEventsResponse* response) override;

 private:
  PolicyManager& manager_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::policy
