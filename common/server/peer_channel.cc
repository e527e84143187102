#include "common/server/peer_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

namespace tally {

std::shared_ptr<grpc::Channel> MakePeerChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration max_reconnect_backoff) {
  grpc::ChannelArguments args;
  // healthCheckConfig "" is readiness (kReadinessService in server_runner.h).
  args.SetServiceConfigJSON(
      R"({"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}})");
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(max_reconnect_backoff)));
  return grpc::CreateCustomChannel(target, std::move(credentials), args);
}

PeerChannels::PeerChannels(const TlsFiles& tls) : credentials_(MakeChannelCredentials(tls)) {}

std::shared_ptr<grpc::Channel> PeerChannels::To(const std::string& target) const {
  return MakePeerChannel(target, credentials_);
}

}  // namespace tally
