#include "services/policy/policy_service.h"

#include "common/server/call_auth.h"
#include "common/status/grpc_status.h"

namespace tally::policy {
namespace {

// Authenticates, runs one manager method and writes its result.
template <typename Request, typename Response, typename Method>
grpc::Status Handle(PolicyManager& manager, const Authenticator& auth,
                    grpc::ServerContext* context, const Request& request, Response* response,
                    Method method) {
  absl::StatusOr<Caller> caller = AuthenticateCall(auth, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<Response> result = (manager.*method)(*caller, request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

DirectoryServiceImpl::DirectoryServiceImpl(PolicyManager& manager,
                                           std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status DirectoryServiceImpl::CreateDirectory(grpc::ServerContext* context,
                                                   const pb::CreateDirectoryRequest* request,
                                                   pb::CreateDirectoryResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::CreateDirectory);
}

grpc::Status DirectoryServiceImpl::GetDirectory(grpc::ServerContext* context,
                                                const pb::GetDirectoryRequest* request,
                                                pb::GetDirectoryResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::GetDirectory);
}

grpc::Status DirectoryServiceImpl::ListDirectories(grpc::ServerContext* context,
                                                   const pb::ListDirectoriesRequest* request,
                                                   pb::ListDirectoriesResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::ListDirectories);
}

PolicyServiceImpl::PolicyServiceImpl(PolicyManager& manager,
                                     std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status PolicyServiceImpl::GetAuthSettings(grpc::ServerContext* context,
                                                const pb::GetAuthSettingsRequest* request,
                                                pb::GetAuthSettingsResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::GetAuthSettings);
}

grpc::Status PolicyServiceImpl::UpdateAuthSettings(grpc::ServerContext* context,
                                                   const pb::UpdateAuthSettingsRequest* request,
                                                   pb::UpdateAuthSettingsResponse* response) {
  return Handle(manager_, *auth_, context, *request, response,
                &PolicyManager::UpdateAuthSettings);
}

grpc::Status PolicyServiceImpl::Evaluate(grpc::ServerContext* context,
                                         const pb::EvaluateRequest* request,
                                         pb::EvaluateResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::Evaluate);
}

grpc::Status PolicyServiceImpl::ListAuditEvents(grpc::ServerContext* context,
                                                const pb::ListAuditEventsRequest* request,
                                                pb::ListAuditEventsResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PolicyManager::ListAuditEvents);
}

}  // namespace tally::policy
