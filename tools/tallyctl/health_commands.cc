#include "tools/tallyctl/health_commands.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, service, "",
          "health: the grpc.health.v1 service name (\"\" readiness, \"liveness\").");

namespace tally::cli {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

absl::Status Health(CommandContext& ctx) {
  if (ctx.options().addr.empty()) return UsageError("health needs --addr");
  auto stub = grpc::health::v1::Health::NewStub(ctx.Channel(0));
  grpc::ClientContext context;
  ctx.Prepare(context);
  HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  HealthCheckResponse response;
  if (auto s = FromGrpcStatus(stub->Check(&context, request, &response)); !s.ok()) return s;
  const std::string status = HealthCheckResponse::ServingStatus_Name(response.status());
  ctx.out() << status << "\n";
  if (response.status() != HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(ctx.options().addr, " is ", status));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterHealthCommands(CommandRegistry& registry) {
  registry.Add({"health", "", "health --addr HOST:PORT [--service liveness]   (exit 0 when SERVING)",
                0, 0, Health});
}

}  // namespace tally::cli
