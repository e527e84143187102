#pragma once

// API.md "Cluster callers": under mutual TLS, "cluster" is not anonymous. Every service keeps one
// table (services/<svc>/<svc>_callers.cc) saying, per RPC, whether it is open to the cluster and
// which Tally services may call it there, named by the peer certificate; the Authenticator
// checks it on every call (HandleCall passes the RPC and the peer). Without TLS (development)
// anyone who reached the service is the cluster, as before.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tally {

// The Tally services as their certificates name them: URI SAN spiffe://tally/<name>.
inline constexpr absl::string_view kOrchestratorService = "orchestrator";
inline constexpr absl::string_view kPolicyService = "policy";
inline constexpr absl::string_view kCredentialService = "credential";
inline constexpr absl::string_view kOtpService = "otp";
inline constexpr absl::string_view kPasskeyService = "passkey";
// In a rule's callers: any certificate from the CA, Tally service or not: login clients
// (customer backends, the example web app).
inline constexpr absl::string_view kAnyCertificate = "*";

// What the transport says about the caller.
struct Peer {
  // The call came over mutual TLS: the peer presented a certificate that chains to our CA (the
  // server requires one and checks it before any call).
  bool mutual_tls = false;
  // The Tally service its certificate names (TallyServiceOf); empty for any other certificate:
  // a login client or an admin tool.
  std::string service;
};

// The Tally service a peer certificate names, from its subject alternative names: a URI
// `spiffe://tally/<service>`, or a DNS name the deploy overlays give a service's certificate
// (`tally-<service>`; the OTP service's two Deployments are `tally-otp-api` and
// `tally-otp-sender`). Empty when it names none, or more than one (one certificate is one
// service's: a certificate valid for several would let one service act as another).
std::string TallyServiceOf(const std::vector<std::string>& uri_sans,
                           const std::vector<std::string>& dns_sans);

enum class ClusterAccess {
  // Not a cluster call: a session token or the platform key, which the service checks.
  kNone,
  // Only for the cluster: under mutual TLS the certificate must name one of the callers,
  // whatever credentials the call carries (a token or the key are checked, but grant nothing).
  kOnly,
  // The cluster (as kOnly) for calls without credentials; calls with a token or the platform
  // key are the service's to check (GetUser: "cluster, the user, directory admin").
  kOrCredentials,
};

struct CallRule {
  ClusterAccess access = ClusterAccess::kNone;
  std::vector<std::string> callers;  // Tally services (k...Service) or kAnyCertificate
};

// The rows of a table, as API.md's "who may call" column reads.
CallRule CredentialsOnly();
CallRule ClusterOnly(std::vector<std::string> callers);
CallRule ClusterOrCredentials(std::vector<std::string> callers);

// One service's table. Immutable; safe to share between threads.
class ClusterCallers {
 public:
  // No rules: every call under mutual TLS is refused (fail closed), plaintext calls pass.
  ClusterCallers() = default;
  // `package` is the proto package ("tally.credential.v1"); rows are keyed by "Service.Method"
  // as API.md writes them ("CredentialService.VerifyPassword").
  ClusterCallers(absl::string_view package,
                 std::vector<std::pair<std::string, CallRule>> rows);

  // Whether a call of `method` (the full name, "tally.credential.v1.CredentialService.
  // VerifyPassword") from `peer` may go on; `has_credentials` when it carries a valid session
  // token or the platform key. OK without mutual TLS. PERMISSION_DENIED for a certificate the
  // rule does not name, and for a method without a rule.
  absl::Status Check(absl::string_view method, const Peer& peer, bool has_credentials) const;

  // By full method name. The server layer checks the table against the services it serves
  // (CheckClusterCallers in common/server/call_auth.h: every RPC has a rule, every rule an RPC,
  // every caller is a Tally service).
  const std::map<std::string, CallRule, std::less<>>& rules() const { return rules_; }

 private:
  std::map<std::string, CallRule, std::less<>> rules_;
};

// Whether `name` is one of the k...Service names above.
bool IsTallyService(absl::string_view name);

}  // namespace tally
