#include "common/server/request_parse_interceptor.h"

#include <atomic>
#include <memory>
#include <string>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging/logging.h"
#include "common/server/server_runner.h"
#include "common/testing/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/otp/v1/otp.grpc.pb.h"

namespace tally {
namespace {

using ::testing::HasSubstr;

// SendCode counts the calls that reach it; VerifyCode fails with the handler's own INTERNAL.
class CountingService final : public otp::v1::OtpService::Service {
 public:
  grpc::Status SendCode(grpc::ServerContext*, const otp::v1::SendCodeRequest* request,
                        otp::v1::SendCodeResponse* response) override {
    ++calls_;
    response->set_challenge_id(request->user_id());
    return grpc::Status::OK;
  }
  grpc::Status VerifyCode(grpc::ServerContext*, const otp::v1::VerifyCodeRequest*,
                          otp::v1::VerifyCodeResponse*) override {
    return grpc::Status(grpc::StatusCode::INTERNAL, "handler failure");
  }
  std::atomic<int> calls_{0};
};

// A length-delimited field `number` holding `value`, encoded by hand: the C++ serializer
// refuses invalid UTF-8 in a string field.
std::string LengthDelimited(int number, const std::string& value) {
  std::string out(1, static_cast<char>((number << 3) | 2));
  size_t n = value.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + value;
}

class RequestParseInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = absl::StrCat("127.0.0.1:", testing::FreePort());
    options.health_interval = absl::Milliseconds(50);
    runner_ = std::make_unique<ServerRunner>(options, GetLogger("parse-test"));
    runner_->AddService(&service_);
    ASSERT_TRUE(runner_->Start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  // Calls `method` with `payload` as the raw request; the response bytes go to `response`.
  grpc::Status Call(const std::string& method, const std::string& payload,
                    std::string* response = nullptr) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice slice(payload);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer reply;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &reply,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (status.ok() && response != nullptr) {
      std::vector<grpc::Slice> slices;
      (void)reply.Dump(&slices);
      response->clear();
      for (const grpc::Slice& s : slices) {
        response->append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    return status;
  }

  std::string Metrics() {
    const std::string address = runner_->metrics_address();
    auto body = testing::HttpGet(std::stoi(address.substr(address.rfind(':') + 1)), "/metrics");
    EXPECT_TRUE(body.ok()) << body.status();
    return body.ok() ? *body : "";
  }

  CountingService service_;
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
};

constexpr char kSendCode[] = "/tally.otp.v1.OtpService/SendCode";

TEST_F(RequestParseInterceptorTest, InvalidUtf8InAStringFieldIsInvalidArgument) {
  const std::string secret = "\xff\xfe secret-password \xc3";
  const grpc::Status status = Call(kSendCode, LengthDelimited(2, secret));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(), kUnparsableRequestMessage);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("secret-password")));
  EXPECT_EQ(service_.calls_.load(), 0) << "the handler must never see an unparsable request";
  // The metrics count the code the client saw.
  EXPECT_THAT(Metrics(), HasSubstr("grpc_server_handled_total{grpc_code=\"INVALID_ARGUMENT\","
                                   "grpc_method=\"/tally.otp.v1.OtpService/SendCode\"} 1"));
  EXPECT_THAT(Metrics(), ::testing::Not(HasSubstr("grpc_code=\"INTERNAL\"")));
}

TEST_F(RequestParseInterceptorTest, MalformedWireBytesAreInvalidArgument) {
  // A length prefix running past the end, a field number 0 and a bare end-group tag.
  for (const std::string& payload :
       {std::string("\x12\x7f" "abc"), std::string("\x02\x01x", 3), std::string("\x0c", 1)}) {
    const grpc::Status status = Call(kSendCode, payload);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_EQ(status.error_message(), kUnparsableRequestMessage);
  }
  EXPECT_EQ(service_.calls_.load(), 0);
}

TEST_F(RequestParseInterceptorTest, ValidRequestsAndHandlerStatusesPassUnchanged) {
  std::string response;
  const grpc::Status ok = Call(kSendCode, LengthDelimited(2, "usr_\xc3\xa9t\xc3\xa9"), &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  otp::v1::SendCodeResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(response));
  EXPECT_EQ(parsed.challenge_id(), "usr_\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(service_.calls_.load(), 1);

  // A handler's own INTERNAL is not the library's parse failure: it is left alone.
  const grpc::Status internal = Call("/tally.otp.v1.OtpService/VerifyCode", "");
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(internal.error_message(), "handler failure");
}

}  // namespace
}  // namespace tally
