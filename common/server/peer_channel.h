#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/time/time.h"
#include "common/server/tls.h"

namespace tally {

// A channel from one Tally service to another (the orchestrator's and the passkey service's
// peers). `target` may name several replicas: "dns:///tally-credential:50052" (a headless
// Kubernetes Service: every pod's address) or "ipv4:10.0.0.1:50052,10.0.0.2:50052". Calls are
// spread over the replicas one by one (round_robin), not pinned to one connection, so a peer
// scaled out takes load at once; and the channel watches each replica's gRPC health, so a
// replica that reports NOT_SERVING (draining on SIGTERM, its store down) gets no calls while
// the others serve. A single address behaves as before, except that calls fail at once with
// UNAVAILABLE while that peer is NOT_SERVING.
// `max_reconnect_backoff` bounds how long a restarted replica can go unnoticed (gRPC's own
// default backs off to two minutes).
std::shared_ptr<grpc::Channel> MakePeerChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration max_reconnect_backoff = absl::Seconds(5));

// A service's channels to its peers, with the same mutual TLS files as its server side
// (plaintext when none are configured): one set of client credentials for every peer.
class PeerChannels {
 public:
  explicit PeerChannels(const TlsFiles& tls);
  std::shared_ptr<grpc::Channel> To(const std::string& target) const;

 private:
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
};

}  // namespace tally
