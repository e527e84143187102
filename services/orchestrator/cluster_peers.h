#pragma once

// The orchestrator's four peers over gRPC, built from its configuration in one place: each
// service's gRPC client, with the settings cache in front of the policy service and the
// last-seen users behind the credential service.

#include <string>

#include "absl/time/time.h"
#include "common/otp/otp_peer.h"
#include "common/server/peer_call.h"
#include "common/server/peer_channel.h"
#include "common/util/clock.h"
#include "services/orchestrator/grpc_peers.h"

namespace tally::orchestrator {

struct ClusterPeersConfig {
  // --policy_addr, --credential_addr, --otp_addr, --passkey_addr (gRPC targets).
  std::string policy_addr;
  std::string credential_addr;
  std::string otp_addr;
  std::string passkey_addr;
  PeerCallOptions calls;              // --peer_timeout, --peer_read_attempts
  absl::Duration settings_cache_ttl;  // --settings_cache_ttl: 0 disables the cache
  absl::Duration user_max_stale;      // --user_max_stale: 0 disables stale users

  // "policy=<addr> credential=<addr> otp=<addr> passkey=<addr>", for the start-up log.
  std::string Describe() const;
};

// `channels` is only used while constructing; `clock` must outlive the peers. The login logic
// takes `policy` and `credential` (the wrapped ones); what must see the credential service's
// current answer (lockout, sessions, devices) takes `credential_service`.
struct ClusterPeers {
  ClusterPeers(const ClusterPeersConfig& config, const PeerChannels& channels,
               const Clock& clock);

  GrpcPolicyPeer policy_service;
  CachingPolicyPeer policy;
  GrpcCredentialPeer credential_service;
  StaleUserCredentialPeer credential;
  GrpcOtpPeer otp;
  GrpcPasskeyPeer passkey;
};

}  // namespace tally::orchestrator
