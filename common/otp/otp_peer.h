#pragma once

// The OTP service as its cluster callers see it (API.md "Cluster callers"): the orchestrator
// sends and checks login codes and sends notices; the credential service sends the code for a
// new contact and the notice to the old one. Both go through the OTP service's pipeline (its
// budgets, senders and dev outbox) with this one client.

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/peer_call.h"
#include "tally/otp/v1/otp.grpc.pb.h"

namespace tally {

// Every call takes the caller's deadline (absl::InfiniteFuture() when it has none).
class OtpPeer {
 public:
  virtual ~OtpPeer() = default;
  // RESOURCE_EXHAUSTED inside the cooldown or over a cap (with the OTP service's details);
  // INVALID_ARGUMENT a destination the service refuses.
  virtual absl::StatusOr<::tally::otp::v1::SendCodeResponse> SendCode(
      const ::tally::otp::v1::SendCodeRequest& request, absl::Time deadline) = 0;
  // A wrong, used or expired code is a result, not an error.
  virtual absl::StatusOr<::tally::otp::v1::VerifyCodeResponse> VerifyCode(
      const ::tally::otp::v1::VerifyCodeRequest& request, absl::Time deadline) = 0;
  // Tells the user something happened to their account (NOTICE_DEVICE_REMEMBERED,
  // NOTICE_CONTACT_CHANGED, ...). RESOURCE_EXHAUSTED refused by its budget (nothing sent).
  virtual absl::Status SendNotice(const ::tally::otp::v1::SendNoticeRequest& request,
                                  absl::Time deadline) = 0;
};

// Over gRPC (CallPeer); an OTP service that cannot be reached, or answers with a code not
// listed above, is UNAVAILABLE "otp service unavailable".
class GrpcOtpPeer final : public OtpPeer {
 public:
  GrpcOtpPeer(std::shared_ptr<::tally::otp::v1::OtpService::StubInterface> stub,
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

}  // namespace tally
