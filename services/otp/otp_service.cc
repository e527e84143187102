#include "services/otp/otp_service.h"

#include "common/server/call_auth.h"
#include "common/status/grpc_status.h"

namespace tally::otp {
namespace {

template <typename Request, typename Response, typename Method>
grpc::Status Handle(OtpManager& manager, const Authenticator& auth, grpc::ServerContext* context,
                    const Request& request, Response* response, Method method) {
  // Cluster calls need no credentials, but credentials that are presented must be valid.
  absl::StatusOr<Caller> caller = AuthenticateCall(auth, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<Response> result = (manager.*method)(*caller, request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

OtpServiceImpl::OtpServiceImpl(OtpManager& manager, std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status OtpServiceImpl::SendCode(grpc::ServerContext* context,
                                      const pb::SendCodeRequest* request,
                                      pb::SendCodeResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &OtpManager::SendCode);
}

grpc::Status OtpServiceImpl::VerifyCode(grpc::ServerContext* context,
                                        const pb::VerifyCodeRequest* request,
                                        pb::VerifyCodeResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &OtpManager::VerifyCode);
}

grpc::Status OtpServiceImpl::ListDeadLetters(grpc::ServerContext* context,
                                             const pb::ListDeadLettersRequest* request,
                                             pb::ListDeadLettersResponse* response) {
  return Handle(manager_, *auth_, context, *request, response, &OtpManager::ListDeadLetters);
}

}  // namespace tally::otp
