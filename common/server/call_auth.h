#pragma once

#include <functional>
#include <memory>
#include <type_traits>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/status/grpc_status.h"
#include "common/util/clock.h"

ABSL_DECLARE_FLAG(std::string, platform_key);

namespace tally {

// Who is calling, from the call's `x-tally-platform-key` and `authorization` metadata.
absl::StatusOr<Caller> AuthenticateCall(const Authenticator& authenticator,
                                        const grpc::ServerContext& context);

// The Authenticator every service builds from the shared flags --platform_key, --jwks_file and
// --jwt_issuer (TALLY_PLATFORM_KEY, TALLY_JWKS_FILE, TALLY_JWT_ISSUER). Bad configuration
// (unreadable JWKS, a platform key too short to resist guessing) is INVALID_ARGUMENT.
// `revocations` (the service's Redis: RedisRevocationStore, or RevocationCheckerFromUrl) makes
// every bearer token also pass the revocation check; without it a warning is logged at start-up
// when tokens are accepted, since a revoked session then keeps working here until it expires.
absl::StatusOr<std::shared_ptr<const Authenticator>> AuthenticatorFromFlags(
    const Clock& clock, std::shared_ptr<const RevocationChecker> revocations = nullptr);

// The call's deadline; absl::InfiniteFuture() when the client set none.
absl::Time CallDeadline(const grpc::ServerContext& context);

namespace call_internal {

// Runs `(logic.*method)(args..., deadline)` when the method takes the call's deadline, else
// `(logic.*method)(args...)` (an absl::StatusOr<Response>), writes the response and converts
// the status.
template <typename Logic, typename Method, typename Response, typename... Args>
grpc::Status Respond(const grpc::ServerContext& context, Logic& logic, Method method,
                     Response* response, const Args&... args) {
  absl::StatusOr<Response> result = [&] {
    if constexpr (std::is_invocable_v<Method, Logic&, const Args&..., absl::Time>) {
      return std::invoke(method, logic, args..., CallDeadline(context));
    } else {
      return std::invoke(method, logic, args...);
    }
  }();
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace call_internal

// The body of every gRPC method: authenticates the call, runs
// `(logic.*method)(caller, request)` (an absl::StatusOr<Response>), or
// `(logic.*method)(caller, request, deadline)` for logic that takes the call's deadline, writes
// the response and converts the status. The services' logic classes stay free of gRPC.
template <typename Logic, typename Method, typename Request, typename Response>
grpc::Status HandleCall(const Authenticator& authenticator, const grpc::ServerContext& context,
                        Logic& logic, Method method, const Request& request, Response* response) {
  absl::StatusOr<Caller> caller = AuthenticateCall(authenticator, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return call_internal::Respond(context, logic, method, response, *caller, request);
}

// The same for cluster calls whose logic takes no Caller (the orchestrator's logins):
// `(logic.*method)(request)` or `(logic.*method)(request, deadline)`.
template <typename Logic, typename Method, typename Request, typename Response>
grpc::Status HandleCall(const grpc::ServerContext& context, Logic& logic, Method method,
                        const Request& request, Response* response) {
  return call_internal::Respond(context, logic, method, response, request);
}

}  // namespace tally
