#include "services/passkey/passkey_service.h"

#include "common/server/call_auth.h"
#include "common/status/grpc_status.h"

namespace tally::passkey {
namespace {

template <typename Request, typename Response, typename Method>
grpc::Status Handle(PasskeyManager& manager, const Authenticator& auth,
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

PasskeyServiceImpl::PasskeyServiceImpl(PasskeyManager& manager,
                                       std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status PasskeyServiceImpl::StartRegistration(grpc::ServerContext* context,
                                                   const pb::StartRegistrationRequest* request,
                                                   pb::StartRegistrationResponse* response) {
  return Handle(manager_, *auth_, context, *request, response,
                &PasskeyManager::StartRegistration);
}

grpc::Status PasskeyServiceImpl::FinishRegistration(grpc::ServerContext* context,
                                                    const pb::FinishRegistrationRequest* request,
                                                    pb::FinishRegistrationResponse* response) {
  return Handle(manager_, *auth_, context, *request, response,
                &PasskeyManager::FinishRegistration);
}

grpc::Status PasskeyServiceImpl::StartAuthentication(
    grpc::ServerContext* context, const pb::StartAuthenticationRequest* request,
    pb::StartAuthenticationResponse* response) {
  return Handle(manager_, *auth_, context, *request, response,
                &PasskeyManager::StartAuthentication);
}

grpc::Status PasskeyServiceImpl::FinishAuthentication(
    grpc::ServerContext* context, const pb::FinishAuthenticationRequest* request,
    pb::FinishAuthenticationResponse* response) {
  return Handle(manager_, *auth_, context, *request, response,
                &PasskeyManager::FinishAuthentication);
}

grpc::Status PasskeyServiceImpl::ListPasskeys(grpc::ServerContext* context,
                                              const pb::ListPasskeysRequest* request,
                                              pb::ListPasskeysResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PasskeyManager::ListPasskeys);
}

grpc::Status PasskeyServiceImpl::DeletePasskey(grpc::ServerContext* context,
                                               const pb::DeletePasskeyRequest* request,
                                               pb::DeletePasskeyResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &PasskeyManager::DeletePasskey);
}

}  // namespace tally::passkey
