#include "services/policy/policy_service.h"

#include "common/server/call_auth.h"

namespace tally::policy {

DirectoryServiceImpl::DirectoryServiceImpl(PolicyManager& manager,
                                           std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status DirectoryServiceImpl::CreateDirectory(grpc::ServerContext* context,
                                                   const pb::CreateDirectoryRequest* request,
                                                   pb::CreateDirectoryResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::CreateDirectory, *request,
                    response);
}

grpc::Status DirectoryServiceImpl::GetDirectory(grpc::ServerContext* context,
                                                const pb::GetDirectoryRequest* request,
                                                pb::GetDirectoryResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::GetDirectory, *request, response);
}

grpc::Status DirectoryServiceImpl::ListDirectories(grpc::ServerContext* context,
                                                   const pb::ListDirectoriesRequest* request,
                                                   pb::ListDirectoriesResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::ListDirectories, *request,
                    response);
}

PolicyServiceImpl::PolicyServiceImpl(PolicyManager& manager,
                                     std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status PolicyServiceImpl::GetAuthSettings(grpc::ServerContext* context,
                                                const pb::GetAuthSettingsRequest* request,
                                                pb::GetAuthSettingsResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::GetAuthSettings, *request,
                    response);
}

grpc::Status PolicyServiceImpl::UpdateAuthSettings(grpc::ServerContext* context,
                                                   const pb::UpdateAuthSettingsRequest* request,
                                                   pb::UpdateAuthSettingsResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::UpdateAuthSettings, *request,
                    response);
}

grpc::Status PolicyServiceImpl::Evaluate(grpc::ServerContext* context,
                                         const pb::EvaluateRequest* request,
                                         pb::EvaluateResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::Evaluate, *request, response);
}

grpc::Status PolicyServiceImpl::ListAuditEvents(grpc::ServerContext* context,
                                                const pb::ListAuditEventsRequest* request,
                                                pb::ListAuditEventsResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PolicyManager::ListAuditEvents, *request,
                    response);
}

}  // namespace tally::policy
