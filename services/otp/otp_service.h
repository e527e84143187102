#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/otp/otp_manager.h"
#include "tally/otp/v1/otp.grpc.pb.h"

namespace tally::otp {

// gRPC adapter: authenticate the call, hand it to OtpManager, convert the status.
class OtpServiceImpl final : public pb::OtpService::Service {
 public:
  OtpServiceImpl(OtpManager& manager, std::shared_ptr<const Authenticator> auth);

  grpc::Status SendCode(grpc::ServerContext* context, const pb::SendCodeRequest* request,
                        pb::SendCodeResponse* response) override;
  grpc::Status VerifyCode(grpc::ServerContext* context, const pb::VerifyCodeRequest* request,
                          pb::VerifyCodeResponse* response) override;
  grpc::Status SendNotice(grpc::ServerContext* context, const pb::SendNoticeRequest* request,
                          pb::SendNoticeResponse* response) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* context,
                               const pb::ListDeadLettersRequest* request,
                               pb::ListDeadLettersResponse* response) override;

 private:
  OtpManager& manager_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::otp
