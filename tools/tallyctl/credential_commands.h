#pragma once

#include <grpcpp/client_context.h>

#include "common/status/grpc_status.h"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tools/tallyctl/command.h"

namespace tally::cli {

// user create|get|find|list|set-contact|confirm-contact|set-password|set-roles|delete, and
// dev-token (a session
// token signed with a local key, for administering users before an orchestrator exists).
void RegisterCredentialCommands(CommandRegistry& registry);

// Runs one unary call of the credential service (127.0.0.1:50052 unless --addr) with the
// common options; the credential and factor commands share it.
template <typename Request, typename Response, typename Method>
absl::Status Call(CommandContext& ctx, Method method, const Request& request, Response* response) {
  auto stub = ::tally::credential::v1::CredentialService::NewStub(ctx.Channel(50052));
  grpc::ClientContext context;
  ctx.Prepare(context);
  return FromGrpcStatus(((*stub).*method)(&context, request, response));
}

}  // namespace tally::cli
