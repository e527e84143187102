// GrpcOtpPeer over a gMock stub: which of the OTP service's codes reach the caller, and that no
// call is tried twice (a second SendCode would send a second code; a second VerifyCode would
// spend an attempt).
#include "common/otp/otp_peer.h"

#include <grpcpp/client_context.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/otp/v1/otp_mock.grpc.pb.h"

namespace tally {
namespace {

namespace otppb = ::tally::otp::v1;
using ::testing::_;
using ::testing::Return;

PeerCallOptions FastOptions() {
  PeerCallOptions options;
  options.read_attempts = 3;
  options.retry_backoff = absl::Milliseconds(1);
  return options;
}

grpc::Status Error(grpc::StatusCode code) { return grpc::Status(code, "from the otp service"); }

TEST(GrpcOtpPeerTest, AnswersArePassedBack) {
  auto stub = std::make_shared<otppb::MockOtpServiceStub>();
  EXPECT_CALL(*stub, SendCode(_, _, _))
      .WillOnce([](grpc::ClientContext*, const otppb::SendCodeRequest& request,
                   otppb::SendCodeResponse* response) {
        EXPECT_EQ(request.destination(), "alice@example.com");
        response->set_challenge_id("chl_1");
        return grpc::Status::OK;
      });
  EXPECT_CALL(*stub, VerifyCode(_, _, _))
      .WillOnce([](grpc::ClientContext*, const otppb::VerifyCodeRequest&,
                   otppb::VerifyCodeResponse* response) {
        response->set_result(otppb::VERIFY_RESULT_WRONG_CODE);
        return grpc::Status::OK;
      });
  GrpcOtpPeer peer(stub, FastOptions());
  otppb::SendCodeRequest send;
  send.set_destination("alice@example.com");
  auto sent = peer.SendCode(send, absl::InfiniteFuture());
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->challenge_id(), "chl_1");
  auto verified = peer.VerifyCode(otppb::VerifyCodeRequest(), absl::InfiniteFuture());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->result(), otppb::VERIFY_RESULT_WRONG_CODE);
}

TEST(GrpcOtpPeerTest, BudgetsAndBadDestinationsPassThrough) {
  auto stub = std::make_shared<otppb::MockOtpServiceStub>();
  EXPECT_CALL(*stub, SendCode(_, _, _))
      .WillOnce(Return(Error(grpc::StatusCode::RESOURCE_EXHAUSTED)))
      .WillOnce(Return(Error(grpc::StatusCode::INVALID_ARGUMENT)));
  EXPECT_CALL(*stub, SendNotice(_, _, _))
      .WillOnce(Return(Error(grpc::StatusCode::RESOURCE_EXHAUSTED)))
      .WillOnce(Return(Error(grpc::StatusCode::INVALID_ARGUMENT)));
  EXPECT_CALL(*stub, VerifyCode(_, _, _))
      .WillOnce(Return(Error(grpc::StatusCode::INVALID_ARGUMENT)));
  GrpcOtpPeer peer(stub, FastOptions());
  const absl::Time deadline = absl::InfiniteFuture();
  EXPECT_TRUE(absl::IsResourceExhausted(peer.SendCode({}, deadline).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(peer.SendCode({}, deadline).status()));
  EXPECT_TRUE(absl::IsResourceExhausted(peer.SendNotice({}, deadline)));
  EXPECT_TRUE(absl::IsInvalidArgument(peer.SendNotice({}, deadline)));
  EXPECT_TRUE(absl::IsInvalidArgument(peer.VerifyCode({}, deadline).status()));
}

TEST(GrpcOtpPeerTest, OtherCodesAreTheOtpServiceUnavailable) {
  auto stub = std::make_shared<otppb::MockOtpServiceStub>();
  // VerifyCode never answers RESOURCE_EXHAUSTED to a caller: it is not one of its results.
  EXPECT_CALL(*stub, VerifyCode(_, _, _))
      .WillOnce(Return(Error(grpc::StatusCode::RESOURCE_EXHAUSTED)));
  EXPECT_CALL(*stub, SendCode(_, _, _))
      .WillOnce(Return(Error(grpc::StatusCode::PERMISSION_DENIED)));
  GrpcOtpPeer peer(stub, FastOptions());
  absl::Status verify = peer.VerifyCode({}, absl::InfiniteFuture()).status();
  EXPECT_TRUE(absl::IsUnavailable(verify));
  EXPECT_THAT(verify.message(), ::testing::HasSubstr("otp service unavailable"));
  absl::Status send = peer.SendCode({}, absl::InfiniteFuture()).status();
  EXPECT_TRUE(absl::IsUnavailable(send));
  EXPECT_THAT(send.message(), ::testing::HasSubstr("otp service unavailable"));
}

TEST(GrpcOtpPeerTest, NothingIsTriedTwice) {
  auto stub = std::make_shared<otppb::MockOtpServiceStub>();
  EXPECT_CALL(*stub, SendCode(_, _, _)).WillOnce(Return(Error(grpc::StatusCode::UNAVAILABLE)));
  EXPECT_CALL(*stub, VerifyCode(_, _, _)).WillOnce(Return(Error(grpc::StatusCode::UNAVAILABLE)));
  EXPECT_CALL(*stub, SendNotice(_, _, _)).WillOnce(Return(Error(grpc::StatusCode::UNAVAILABLE)));
  GrpcOtpPeer peer(stub, FastOptions());
  const absl::Time deadline = absl::InfiniteFuture();
  EXPECT_EQ(peer.SendCode({}, deadline).status().message(), "otp service unavailable");
  EXPECT_EQ(peer.VerifyCode({}, deadline).status().message(), "otp service unavailable");
  EXPECT_EQ(peer.SendNotice({}, deadline).message(), "otp service unavailable");
}

}  // namespace
}  // namespace tally
