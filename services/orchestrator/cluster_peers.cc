#include "services/orchestrator/cluster_peers.h"

#include "absl/strings/str_cat.h"

namespace tally::orchestrator {

std::string ClusterPeersConfig::Describe() const {
  return absl::StrCat("policy=", policy_addr, " credential=", credential_addr, " otp=", otp_addr,
                      " passkey=", passkey_addr);
}

ClusterPeers::ClusterPeers(const ClusterPeersConfig& config, const PeerChannels& channels,
                           const Clock& clock)
    : policy_service(
          ::tally::policy::v1::PolicyService::NewStub(channels.To(config.policy_addr)),
          config.calls),
      policy(policy_service, clock, config.settings_cache_ttl),
      credential_service(
          ::tally::credential::v1::CredentialService::NewStub(channels.To(config.credential_addr)),
          config.calls),
      credential(credential_service, clock, config.user_max_stale),
      otp(::tally::otp::v1::OtpService::NewStub(channels.To(config.otp_addr)), config.calls),
      passkey(::tally::passkey::v1::PasskeyService::NewStub(channels.To(config.passkey_addr)),
              config.calls) {}

}  // namespace tally::orchestrator
