#include "common/otp/otp_peer.h"

#include <grpcpp/client_context.h>

namespace tally {

namespace otppb = ::tally::otp::v1;

GrpcOtpPeer::GrpcOtpPeer(std::shared_ptr<otppb::OtpService::StubInterface> stub,
                         PeerCallOptions options)
    : stub_(std::move(stub)), options_(options) {}

// None of the three is idempotent: a retried SendCode would send a second code (and spend the
// budget twice), a retried VerifyCode would spend a second attempt.
absl::StatusOr<otppb::SendCodeResponse> GrpcOtpPeer::SendCode(
    const otppb::SendCodeRequest& request, absl::Time deadline) {
  otppb::SendCodeResponse response;
  absl::Status s = CallPeer(
      "otp", options_, deadline, /*idempotent=*/false,
      {absl::StatusCode::kResourceExhausted, absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->SendCode(context, request, &response); });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<otppb::VerifyCodeResponse> GrpcOtpPeer::VerifyCode(
    const otppb::VerifyCodeRequest& request, absl::Time deadline) {
  otppb::VerifyCodeResponse response;
  absl::Status s = CallPeer(
      "otp", options_, deadline, /*idempotent=*/false, {absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->VerifyCode(context, request, &response); });
  if (!s.ok()) return s;
  return response;
}

absl::Status GrpcOtpPeer::SendNotice(const otppb::SendNoticeRequest& request,
                                     absl::Time deadline) {
  otppb::SendNoticeResponse response;
  return CallPeer(
      "otp", options_, deadline, /*idempotent=*/false,
      {absl::StatusCode::kResourceExhausted, absl::StatusCode::kInvalidArgument},
      [&](grpc::ClientContext* context) { return stub_->SendNotice(context, request, &response); });
}

}  // namespace tally
