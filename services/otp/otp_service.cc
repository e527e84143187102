#include "services/otp/otp_service.h"

#include "common/server/call_auth.h"

namespace tally::otp {

OtpServiceImpl::OtpServiceImpl(OtpManager& manager, std::shared_ptr<const Authenticator> auth)
    : manager_(manager), auth_(std::move(auth)) {}

grpc::Status OtpServiceImpl::SendCode(grpc::ServerContext* context,
                                      const pb::SendCodeRequest* request,
                                      pb::SendCodeResponse* response) {
  return HandleCall(*auth_, *context, manager_, &OtpManager::SendCode, *request, response);
}

grpc::Status OtpServiceImpl::VerifyCode(grpc::ServerContext* context,
                                        const pb::VerifyCodeRequest* request,
                                        pb::VerifyCodeResponse* response) {
  return HandleCall(*auth_, *context, manager_, &OtpManager::VerifyCode, *request, response);
}

grpc::Status OtpServiceImpl::SendNotice(grpc::ServerContext* context,
                                        const pb::SendNoticeRequest* request,
                                        pb::SendNoticeResponse* response) {
  return HandleCall(*auth_, *context, manager_, &OtpManager::SendNotice, *request, response);
}

grpc::Status OtpServiceImpl::ListDeadLetters(grpc::ServerContext* context,
                                             const pb::ListDeadLettersRequest* request,
                                             pb::ListDeadLettersResponse* response) {
  return HandleCall(*auth_, *context, manager_, &OtpManager::ListDeadLetters, *request, response);
}

}  // namespace tally::otp
