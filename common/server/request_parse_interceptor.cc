#include "common/server/request_parse_interceptor.h"

namespace tally {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

class RequestParseInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RequestParseInterceptor(ServerRpcInfo::Type type)
      // Only for these types does the library parse the (single) request itself before the
      // handler runs; for client and bidi streams a missing message is the normal end of stream.
      : library_parses_request_(type == ServerRpcInfo::Type::UNARY ||
                                type == ServerRpcInfo::Type::SERVER_STREAMING) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (library_parses_request_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (unparsable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kUnparsableRequestMessage));
    }
    methods->Proceed();
  }

 private:
  const bool library_parses_request_;
  bool unparsable_ = false;
};

class RequestParseInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new RequestParseInterceptor(info->type());
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestParseInterceptorFactory() {
  return std::make_unique<RequestParseInterceptorFactory>();
}

}  // namespace tally
