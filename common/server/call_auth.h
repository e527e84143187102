#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/caller.h"
#include "common/status/grpc_status.h"
#include "common/util/clock.h"
#include "common/util/deadline.h"

ABSL_DECLARE_FLAG(std::string, platform_key);

namespace google::protobuf {
class Descriptor;
}  // namespace google::protobuf

namespace tally {

// What the transport says about the caller: mutual TLS, and the Tally service the peer's
// certificate names (its URI or DNS subject alternative names, TallyServiceOf).
Peer PeerOf(const grpc::ServerContext& context);

// The full name of the RPC that takes `request` ("tally.credential.v1.CredentialService.
// VerifyPassword"): every RPC takes a request message of its own (buf's STANDARD lint), so the
// request type names the RPC. Empty when no RPC of its file takes it.
std::string MethodOfRequest(const google::protobuf::Descriptor& request);

// Who is calling, from the call's `x-tally-platform-key` and `authorization` metadata and the
// peer's certificate, checked against the cluster rule of `method` (MethodOfRequest).
absl::StatusOr<Caller> AuthenticateCall(const Authenticator& authenticator,
                                        const grpc::ServerContext& context,
                                        absl::string_view method);

// AuthenticateCall for the RPC that takes `Request`, for an adapter that does not go through
// HandleCall.
template <typename Request>
absl::StatusOr<Caller> AuthenticateCallOf(const Authenticator& authenticator,
                                          const grpc::ServerContext& context);

// The Authenticator every service that takes session tokens builds from the shared flags
// --platform_key, --jwks_file (re-read every --jwks_refresh_interval, so rotated keys apply
// without a restart), --jwt_issuer and --reauth_max_age (TALLY_PLATFORM_KEY, ...), with the
// service's table of cluster callers. `revocations` (the service's Redis,
// common/auth/redis_revocation_store.h) is required when tokens are accepted: there is no mode
// in which a revoked token works. Bad configuration (unreadable JWKS, a platform key too short to
// resist guessing, a JWKS without a Redis, a table that does not cover every RPC of its
// services) is INVALID_ARGUMENT.
// `own_keys`: the orchestrator verifies tokens with the keys it signs with, not --jwks_file.
absl::StatusOr<std::shared_ptr<const Authenticator>> AuthenticatorFromFlags(
    const Clock& clock, std::shared_ptr<const RevocationChecker> revocations,
    ClusterCallers cluster_callers, std::shared_ptr<const TokenVerifier> own_keys = nullptr);

// OK when `table` has a rule for every RPC of every service it names and only for those, and
// names only Tally services as callers; else INVALID_ARGUMENT naming the first gap.
absl::Status CheckClusterCallers(const ClusterCallers& table);

// The call's deadline; absl::InfiniteFuture() when the client set none.
absl::Time CallDeadline(const grpc::ServerContext& context);

namespace call_internal {

// MethodOfRequest of a generated request type, found once; empty for other types (tests).
template <typename Request>
absl::string_view MethodOf() {
  if constexpr (requires { Request::descriptor(); }) {
    static const std::string* const kMethod =
        new std::string(MethodOfRequest(*Request::descriptor()));
    return *kMethod;
  } else {
    return "";
  }
}

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

template <typename Request>
absl::StatusOr<Caller> AuthenticateCallOf(const Authenticator& authenticator,
                                          const grpc::ServerContext& context) {
  return AuthenticateCall(authenticator, context, call_internal::MethodOf<Request>());
}

// The body of every gRPC method: authenticates the call (credentials, then the cluster rule of
// the RPC, named by its request type), runs `(logic.*method)(caller, request)` (an
// absl::StatusOr<Response>), or `(logic.*method)(caller, request, deadline)` for logic that
// takes the call's deadline, writes the response and converts the status. Logic of a cluster
// call that needs no Caller (the orchestrator's logins) is run as `(logic.*method)(request)` or
// `(logic.*method)(request, deadline)`, after the same checks. The services' logic classes stay
// free of gRPC. The call's deadline is also the thread's (ScopedDeadline) while it runs, so the
// stores below (RedisClient) never work past it.
template <typename Logic, typename Method, typename Request, typename Response>
grpc::Status HandleCall(const Authenticator& authenticator, const grpc::ServerContext& context,
                        Logic& logic, Method method, const Request& request, Response* response) {
  ScopedDeadline deadline(CallDeadline(context));
  absl::StatusOr<Caller> caller =
      AuthenticateCall(authenticator, context, call_internal::MethodOf<Request>());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if constexpr (std::is_invocable_v<Method, Logic&, const Caller&, const Request&> ||
                std::is_invocable_v<Method, Logic&, const Caller&, const Request&, absl::Time>) {
    return call_internal::Respond(context, logic, method, response, *caller, request);
  } else {
    return call_internal::Respond(context, logic, method, response, request);
  }
}

}  // namespace tally
