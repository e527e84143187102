#pragma once

#include <memory>

#include <grpcpp/support/server_interceptor.h>

namespace tally {

// The status a server answers when a unary or server-streaming request cannot be parsed as its
// message type (invalid UTF-8 in a proto3 string, a truncated or malformed wire encoding, or no
// message at all). gRPC's C++ library answers those with INTERNAL and protobuf's
// InitializationErrorString(); the client sent bad input, so INVALID_ARGUMENT is the right
// code, and the fixed message echoes nothing the client sent.
inline constexpr char kUnparsableRequestMessage[] = "the request is not a valid message";

// Server interceptors that turn the library's request-deserialization failure into
// INVALID_ARGUMENT kUnparsableRequestMessage. Only calls whose request the library failed to
// parse are touched: it sees that at POST_RECV_MESSAGE (no message was delivered) and rewrites
// the INTERNAL status that follows at PRE_SEND_STATUS. A handler's own INTERNAL passes
// unchanged. Register it before other interceptors that read the final status (metrics), so
// they see the rewritten code.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestParseInterceptorFactory();

}  // namespace tally
