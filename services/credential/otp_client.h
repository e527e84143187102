#pragma once

// The credential service as a client of the OTP service (API.md "Cluster callers": credential
// may call SendCode and VerifyCode for contact changes, SendNotice for notices). A code for a
// new destination and the notice to the old one go through the OTP service's pipeline: its
// budgets, senders and dev outbox.

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/peer_call.h"
#include "tally/otp/v1/otp.grpc.pb.h"

namespace tally::credential {

class OtpClient {
 public:
  virtual ~OtpClient() = default;
  // RESOURCE_EXHAUSTED (with the OTP service's details) or INVALID_ARGUMENT pass through.
  virtual absl::StatusOr<::tally::otp::v1::SendCodeResponse> SendCode(
      const ::tally::otp::v1::SendCodeRequest& request, absl::Time deadline) = 0;
  // A wrong, used or expired code is a result, not an error.
  virtual absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> VerifyCode(
      const ::tally::otp::v1::VerifyCodeRequest& request, absl::Time deadline) = 0;
  virtual absl::Status SendNotice(const ::tally::otp::v1::SendNoticeRequest& request,
                                  absl::Time deadline) = 0;
};

// Over gRPC; an OTP service that cannot be reached is UNAVAILABLE "otp service unavailable".
class GrpcOtpClient final : public OtpClient {
 public:
  GrpcOtpClient(std::shared_ptr<::tally::otp::v1::OtpService::StubInterface> stub,
                PeerCallOptions options);
  absl::StatusOr<::tally::otp::v1::SendCodeResponse> SendCode(
      const ::tally::otp::v1::SendCodeRequest& request, absl::Time deadline) override;
  absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> VerifyCode(
      const ::tally::otp::v1::VerifyCodeRequest& request, absl::Time deadline) override;
  absl::Status SendNotice(const ::tally::otp::v1::SendNoticeRequest& request,
                          absl::Time deadline) override;

 private:
  std::shared_ptr<::tally::otp::v1::OtpService::StubInterface> stub_;
  const PeerCallOptions options_;
};

}  // namespace tally::credential
