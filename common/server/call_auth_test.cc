#include "common/server/call_auth.h"

#include <string>

#include <grpcpp/server_context.h>

#include "gtest/gtest.h"

namespace tally {
namespace {

// Logic of a cluster-only service: no Caller, with and without the call's deadline.
class EchoLogic {
 public:
  absl::StatusOr<std::string> Echo(const std::string& request) {
    if (request.empty()) return absl::NotFoundError("nothing to echo");
    return "echo " + request;
  }
  absl::StatusOr<std::string> EchoBefore(const std::string& request, absl::Time deadline) {
    deadline_ = deadline;
    return "before " + request;
  }
  absl::Time deadline_ = absl::UnixEpoch();
};

TEST(HandleCallTest, WithoutCallerWritesTheResponse) {
  grpc::ServerContext context;
  EchoLogic logic;
  std::string response;
  grpc::Status status = HandleCall(context, logic, &EchoLogic::Echo, std::string("hi"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, "echo hi");
}

TEST(HandleCallTest, WithoutCallerConvertsTheError) {
  grpc::ServerContext context;
  EchoLogic logic;
  std::string response = "untouched";
  grpc::Status status = HandleCall(context, logic, &EchoLogic::Echo, std::string(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "nothing to echo");
  EXPECT_EQ(response, "untouched");
}

TEST(HandleCallTest, LogicThatTakesTheDeadlineGetsTheCallsDeadline) {
  grpc::ServerContext context;  // a call without a deadline
  EchoLogic logic;
  std::string response;
  grpc::Status status =
      HandleCall(context, logic, &EchoLogic::EchoBefore, std::string("hi"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, "before hi");
  EXPECT_EQ(logic.deadline_, absl::InfiniteFuture());
}

}  // namespace
}  // namespace tally
