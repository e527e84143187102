#include "services/passkey/passkey_service.h"

#include "common/server/call_auth.h"

namespace tally::passkey {

PasskeyServiceImpl::PasskeyServiceImpl(PasskeyManager& manager,
                                       std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status PasskeyServiceImpl::StartRegistration(grpc::ServerContext* context,
                                                   const pb::StartRegistrationRequest* request,
                                                   pb::StartRegistrationResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::StartRegistration, *request,
                    response);
}

grpc::Status PasskeyServiceImpl::FinishRegistration(grpc::ServerContext* context,
                                                    const pb::FinishRegistrationRequest* request,
                                                    pb::FinishRegistrationResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::FinishRegistration, *request,
                    response);
}

grpc::Status PasskeyServiceImpl::StartAuthentication(
    grpc::ServerContext* context, const pb::StartAuthenticationRequest* request,
    pb::StartAuthenticationResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::StartAuthentication, *request,
                    response);
}

grpc::Status PasskeyServiceImpl::FinishAuthentication(
    grpc::ServerContext* context, const pb::FinishAuthenticationRequest* request,
    pb::FinishAuthenticationResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::FinishAuthentication, *request,
                    response);
}

grpc::Status PasskeyServiceImpl::ListPasskeys(grpc::ServerContext* context,
                                              const pb::ListPasskeysRequest* request,
                                              pb::ListPasskeysResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::ListPasskeys, *request, response);
}

grpc::Status PasskeyServiceImpl::DeletePasskey(grpc::ServerContext* context,
                                               const pb::DeletePasskeyRequest* request,
                                               pb::DeletePasskeyResponse* response) {
  return HandleCall(*auth_, *context, manager_, &PasskeyManager::DeletePasskey, *request, response);
}

}  // namespace tally::passkey
