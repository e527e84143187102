#include "services/credential/otp_client.h"

namespace tally::credential {

namespace otppb = ::tally::otp::v1;

GrpcOtpClient::GrpcOtpClient(std::shared_ptr<otppb::OtpService::StubInterface> stub,
                             PeerCallOptions options)
    : stub_(std::move(stub)), options_(options) {}

absl::StatusOr<otppb::SendCodeResponse> GrpcOtpClient::SendCode(
    const otppb::SendCodeRequest& request, absl::Time deadline) {
  otppb::SendCodeResponse response;
  absl::Status s = CallPeer(
      "otp", options_, deadline, /*idempotent=*/false,
      {absl::StatusCode::kResourceExhausted, absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->SendCode(context, request, &response); });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<otppb::VerifyCodeResponse> GrpcOtpClient::VerifyCode(
    const otppb::VerifyCodeRequest& request, absl::Time deadline) {
  otppb::VerifyCodeResponse response;
  absl::Status s = CallPeer(
      "otp", options_, deadline, /*idempotent=*/false, {absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->VerifyCode(context, request, &response); });
  if (!s.ok()) return s;
  return response;
}

absl::Status GrpcOtpClient::SendNotice(const otppb::SendNoticeRequest& request,
                                       absl::Time deadline) {
  otppb::SendNoticeResponse response;
  return CallPeer(
      "otp", options_, deadline, /*idempotent=*/false,
      {absl::StatusCode::kResourceExhausted, absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->SendNotice(context, request, &response); });
}

}  // namespace tally::credential
