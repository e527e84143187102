#include "common/auth/cluster_callers.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace tally {
namespace {

constexpr absl::string_view kSpiffePrefix = "spiffe://tally/";
constexpr absl::string_view kDnsPrefix = "tally-";

constexpr absl::string_view kServices[] = {kOrchestratorService, kPolicyService,
                                           kCredentialService, kOtpService, kPasskeyService};

// The service a DNS SAN of the deploy overlays names ("tally-credential"), or "".
std::string ServiceOfDnsName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kDnsPrefix)) return "";
  // The OTP service runs as two Deployments, each with its own Service name.
  if (name == "otp-api" || name == "otp-sender") return std::string(kOtpService);
  return IsTallyService(name) && name != kOtpService ? std::string(name) : "";
}

std::string ServiceOfUri(absl::string_view uri) {
  if (!absl::ConsumePrefix(&uri, kSpiffePrefix)) return "";
  return IsTallyService(uri) ? std::string(uri) : "";
}

}  // namespace

bool IsTallyService(absl::string_view name) {
  return std::find(std::begin(kServices), std::end(kServices), name) != std::end(kServices);
}

std::string TallyServiceOf(const std::vector<std::string>& uri_sans,
                           const std::vector<std::string>& dns_sans) {
  std::set<std::string> named;
  for (const std::string& uri : uri_sans) {
    if (std::string service = ServiceOfUri(uri); !service.empty()) named.insert(service);
  }
  for (const std::string& dns : dns_sans) {
    if (std::string service = ServiceOfDnsName(dns); !service.empty()) named.insert(service);
  }
  return named.size() == 1 ? *named.begin() : "";
}

CallRule CredentialsOnly() { return CallRule{ClusterAccess::kNone, {}}; }

CallRule ClusterOnly(std::vector<std::string> callers) {
  return CallRule{ClusterAccess::kOnly, std::move(callers)};
}

CallRule ClusterOrCredentials(std::vector<std::string> callers) {
  return CallRule{ClusterAccess::kOrCredentials, std::move(callers)};
}

ClusterCallers::ClusterCallers(absl::string_view package,
                               std::vector<std::pair<std::string, CallRule>> rows) {
  for (auto& [rpc, rule] : rows) {
    rules_.emplace(absl::StrCat(package, ".", rpc), std::move(rule));
  }
}

absl::Status ClusterCallers::Check(absl::string_view method, const Peer& peer,
                                   bool has_credentials) const {
  if (!peer.mutual_tls) return absl::OkStatus();  // development: whoever reached us
  auto it = rules_.find(method);
  if (it == rules_.end()) {
    return absl::PermissionDeniedError(absl::StrCat("no caller rule for ", method));
  }
  const CallRule& rule = it->second;
  if (rule.access == ClusterAccess::kNone) return absl::OkStatus();
  if (rule.access == ClusterAccess::kOrCredentials && has_credentials) return absl::OkStatus();
  for (const std::string& caller : rule.callers) {
    if (caller == kAnyCertificate || (!peer.service.empty() && caller == peer.service)) {
      return absl::OkStatus();
    }
  }
  // Both names come from our own table and the certificate's checked SANs: nothing secret.
  absl::string_view rpc = method.substr(method.rfind('.') + 1);
  return absl::PermissionDeniedError(absl::StrCat(
      rpc, " is for the cluster callers ", absl::StrJoin(rule.callers, ", "),
      "; the peer certificate names ",
      peer.service.empty() ? "no Tally service" : absl::StrCat("the ", peer.service, " service")));
}

}  // namespace tally
