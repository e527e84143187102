#include "common/status/error_details.h"

#include <memory>

#include <grpcpp/client_context.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "common/status/error_reasons.h"
#include "common/status/grpc_status.h"
#include "google/rpc/status.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// What a client in any language sees: the google.rpc.Status in grpc-status-details-bin.
google::rpc::Status WireDetails(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

TEST(ErrorDetailsTest, ErrorInfoRoundTripsThroughTheWire) {
  const absl::Status original =
      WithErrorInfo(absl::FailedPreconditionError("sign in again"),
                    reasons::kReauthenticationRequired, {{"max_age", "300s"}});
  const grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(wire.error_message(), "sign in again");

  // A standard client unpacks it with the well-known types alone.
  const google::rpc::Status details = WireDetails(wire);
  EXPECT_EQ(details.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(details.message(), "sign in again");
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "REAUTHENTICATION_REQUIRED");
  EXPECT_EQ(info.domain(), "tally");
  EXPECT_THAT(info.metadata(), UnorderedElementsAre(Pair("max_age", "300s")));

  const absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back, original);
  ASSERT_TRUE(ErrorInfoOf(back).has_value());
  EXPECT_EQ(ErrorInfoOf(back)->reason(), "REAUTHENTICATION_REQUIRED");
  EXPECT_EQ(ErrorReason(back), "REAUTHENTICATION_REQUIRED");
  EXPECT_EQ(ErrorReason(wire), "REAUTHENTICATION_REQUIRED");
}

TEST(ErrorDetailsTest, RetryInfoRoundTripsThroughTheWire) {
  const absl::Status original = WithRetryInfo(
      WithErrorInfo(absl::ResourceExhaustedError("too many codes"), reasons::kSendBudgetExhausted),
      absl::Seconds(42) + absl::Milliseconds(500));
  const grpc::Status wire = ToGrpcStatus(original);

  const google::rpc::Status details = WireDetails(wire);
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::RetryInfo retry;
  bool found = false;
  for (const google::protobuf::Any& any : details.details()) {
    if (any.Is<google::rpc::RetryInfo>()) found = any.UnpackTo(&retry);
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(retry.retry_delay().seconds(), 42);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);

  const absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back, original);
  EXPECT_EQ(RetryDelayOf(back), absl::Seconds(42) + absl::Milliseconds(500));
  EXPECT_EQ(ErrorReason(wire), "SEND_BUDGET_EXHAUSTED");
}

TEST(ErrorDetailsTest, NegativeRetryDelayIsSentAsZero) {
  const absl::Status status = WithRetryInfo(absl::ResourceExhaustedError("x"), absl::Seconds(-3));
  EXPECT_EQ(RetryDelayOf(FromGrpcStatus(ToGrpcStatus(status))), absl::ZeroDuration());
}

TEST(ErrorDetailsTest, BadRequestViolationsAccumulateAndRoundTrip) {
  absl::Status original = absl::FailedPreconditionError("unsatisfiable");
  original = WithBadRequest(original, "settings.required_level", "above the enabled points");
  original = WithBadRequest(original, "settings.method_points", "too few points");
  const grpc::Status wire = ToGrpcStatus(original);

  google::rpc::BadRequest request;
  const google::rpc::Status details = WireDetails(wire);
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&request));
  ASSERT_EQ(request.field_violations_size(), 2);
  EXPECT_EQ(request.field_violations(0).field(), "settings.required_level");
  EXPECT_EQ(request.field_violations(1).description(), "too few points");

  const absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back, original);
  std::vector<google::rpc::BadRequest::FieldViolation> violations = FieldViolationsOf(back);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field(), "settings.required_level");
  EXPECT_EQ(violations[0].description(), "above the enabled points");
  EXPECT_EQ(violations[1].field(), "settings.method_points");
}

TEST(ErrorDetailsTest, DetailsTextForPeople) {
  absl::Status status = WithErrorInfo(absl::FailedPreconditionError("x"),
                                      reasons::kSettingsUnsatisfiable);
  status = WithBadRequest(status, "settings.required_level", "too high");
  EXPECT_EQ(DetailsText(status), "reason SETTINGS_UNSATISFIABLE, field settings.required_level");
  EXPECT_EQ(DetailsText(WithRetryInfo(absl::ResourceExhaustedError("x"), absl::Seconds(42))),
            "retry after 42s");
  EXPECT_EQ(DetailsText(absl::NotFoundError("x")), "");
}

TEST(ErrorDetailsTest, AStatusWithoutDetailsKeepsThePlainWireForm) {
  const grpc::Status wire = ToGrpcStatus(absl::NotFoundError("unknown directory"));
  EXPECT_TRUE(wire.error_details().empty());
  const absl::Status back = FromGrpcStatus(wire);
  EXPECT_FALSE(ErrorInfoOf(back).has_value());
  EXPECT_FALSE(RetryDelayOf(back).has_value());
  EXPECT_TRUE(FieldViolationsOf(back).empty());
  EXPECT_EQ(ErrorReason(back), "");
}

TEST(ErrorDetailsTest, OkStaysOkWithoutDetails) {
  const absl::Status ok = WithErrorInfo(absl::OkStatus(), reasons::kLoginRateLimited);
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(ToGrpcStatus(ok).ok());
  EXPECT_TRUE(ToGrpcStatus(ok).error_details().empty());
}

TEST(ErrorDetailsTest, LaterErrorInfoReplacesEarlier) {
  const absl::Status status =
      WithErrorInfo(WithErrorInfo(absl::FailedPreconditionError("x"),
                                  reasons::kSettingsUnsatisfiable),
                    reasons::kSettingsNewUserLockedOut);
  EXPECT_EQ(ErrorReason(status), "SETTINGS_NEW_USER_LOCKED_OUT");
  EXPECT_EQ(WireDetails(ToGrpcStatus(status)).details_size(), 1);
}

TEST(ErrorDetailsTest, ReasonOfAnotherDomainIsNotOurs) {
  google::rpc::ErrorInfo foreign;
  foreign.set_reason("SETTINGS_UNSATISFIABLE");
  foreign.set_domain("proxy.example");
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::FAILED_PRECONDITION);
  details.add_details()->PackFrom(foreign);
  const grpc::Status wire(grpc::StatusCode::FAILED_PRECONDITION, "x",
                          details.SerializeAsString());
  EXPECT_EQ(ErrorReason(wire), "");
  ASSERT_TRUE(ErrorInfoOf(FromGrpcStatus(wire)).has_value());
  EXPECT_EQ(ErrorInfoOf(FromGrpcStatus(wire))->domain(), "proxy.example");
}

TEST(ErrorDetailsTest, DetailsOfAnotherCodeOrUnparsableAreDropped) {
  google::rpc::ErrorInfo info;
  info.set_reason("LOGIN_RATE_LIMITED");
  info.set_domain("tally");
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::INTERNAL);  // does not match the status below
  details.add_details()->PackFrom(info);
  EXPECT_EQ(ErrorReason(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "x",
                                     details.SerializeAsString())),
            "");
  const absl::Status garbage =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "x", "\xff\xff\xff"));
  EXPECT_EQ(garbage.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(ErrorInfoOf(garbage).has_value());
}

TEST(ErrorDetailsTest, EveryReasonIsItsOwnName) {
  // Callers match on these strings (API.md); a typo here would be a contract break.
  EXPECT_THAT((std::vector<absl::string_view>{
                  reasons::kReauthenticationRequired, reasons::kSettingsUnsatisfiable,
                  reasons::kSettingsNewUserLockedOut, reasons::kSettingsDeviceAlone,
                  reasons::kSendBudgetExhausted, reasons::kLoginRateLimited}),
              ElementsAre("REAUTHENTICATION_REQUIRED", "SETTINGS_UNSATISFIABLE",
                          "SETTINGS_NEW_USER_LOCKED_OUT", "SETTINGS_DEVICE_ALONE",
                          "SEND_BUDGET_EXHAUSTED", "LOGIN_RATE_LIMITED"));
  EXPECT_EQ(reasons::kErrorDomain, "tally");
}

// Answers every Check with the status it was given, converted by ToGrpcStatus as every service
// adapter does.
class RefusingHealth final : public grpc::health::v1::Health::Service {
 public:
  explicit RefusingHealth(absl::Status answer) : answer_(std::move(answer)) {}
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse*) override {
    return ToGrpcStatus(answer_);
  }

 private:
  absl::Status answer_;
};

TEST(ErrorDetailsTest, DetailsCrossARealGrpcCall) {
  // What a peer call sees (the orchestrator calling the OTP service): the details travel in the
  // grpc-status-details-bin trailer and FromGrpcStatus gives the caller the same absl::Status.
  const absl::Status refusal = WithRetryInfo(
      WithErrorInfo(absl::ResourceExhaustedError("send budget used up"),
                    reasons::kSendBudgetExhausted, {{"budget", "user"}}),
      absl::Minutes(7));
  RefusingHealth service(refusal);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = grpc::health::v1::Health::NewStub(server->InProcessChannel(grpc::ChannelArguments()));

  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status wire =
      stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(wire), "SEND_BUDGET_EXHAUSTED");
  const absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back, refusal);
  EXPECT_EQ(RetryDelayOf(back), absl::Minutes(7));
  EXPECT_EQ(ErrorInfoOf(back)->metadata().at("budget"), "user");
  server->Shutdown();
}

}  // namespace
}  // namespace tally
