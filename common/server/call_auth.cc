#include "common/server/call_auth.h"

#include <chrono>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/jwks_file.h"
#include "common/logging/logging.h"

ABSL_FLAG(std::string, platform_key, "",
          "Key that operators' automation presents as x-tally-platform-key (a secret: prefer the "
          "TALLY_PLATFORM_KEY environment variable). Empty: platform calls are refused.");
ABSL_FLAG(std::string, jwks_file, "",
          "JWKS (RFC 7517) file with the orchestrator's public keys for session tokens. Empty: "
          "bearer tokens are refused.");
ABSL_FLAG(absl::Duration, jwks_refresh_interval, absl::Seconds(60),
          "How often --jwks_file is looked at again; a changed file replaces the keys without a "
          "restart (a key removed from it is refused from then on).");
ABSL_FLAG(std::string, jwt_issuer, "tally", "Expected \"iss\" of session tokens.");
ABSL_FLAG(absl::Duration, reauth_max_age, tally::kDefaultReauthMaxAge,
          "A user's own sensitive change (and an admin's change to another account) needs a "
          "session token whose auth_time is at most this old; older: FAILED_PRECONDITION "
          "REAUTHENTICATION_REQUIRED, answered with LoginService.StartStepUp.");

namespace tally {
namespace {

constexpr size_t kMinPlatformKeyBytes = 16;
constexpr absl::Duration kMaxReauthMaxAge = absl::Hours(24);

std::optional<std::string_view> Header(const grpc::ServerContext& context,
                                       std::string_view name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

std::vector<std::string> Values(const grpc::AuthContext& auth, const char* property) {
  std::vector<std::string> values;
  for (const grpc::string_ref& value : auth.FindPropertyValues(property)) {
    values.emplace_back(value.data(), value.size());
  }
  return values;
}

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

}  // namespace

absl::Time CallDeadline(const grpc::ServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  // gRPC reports "no deadline" as the largest time point, which absl::FromChrono cannot hold.
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

Peer PeerOf(const grpc::ServerContext& context) {
  Peer peer;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return peer;
  const std::vector<std::string> security =
      Values(*auth, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  // Our TLS servers require a client certificate from the CA before any call, so a call that
  // came over TLS with an authenticated peer is mutual TLS.
  const bool tls = !security.empty() && (security.front() == GRPC_SSL_TRANSPORT_SECURITY_TYPE ||
                                         security.front() == GRPC_TLS_TRANSPORT_SECURITY_TYPE);
  if (!tls || !auth->IsPeerAuthenticated()) {
    return peer;
  }
  peer.mutual_tls = true;
  peer.service = TallyServiceOf(Values(*auth, GRPC_PEER_URI_PROPERTY_NAME),
                                Values(*auth, GRPC_PEER_DNS_PROPERTY_NAME));
  return peer;
}

std::string MethodOfRequest(const google::protobuf::Descriptor& request) {
  const google::protobuf::FileDescriptor* file = request.file();
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      if (service->method(m)->input_type() == &request) return service->method(m)->full_name();
    }
  }
  return "";
}

absl::StatusOr<Caller> AuthenticateCall(const Authenticator& authenticator,
                                        const grpc::ServerContext& context,
                                        absl::string_view method) {
  return authenticator.Authenticate(Header(context, kPlatformKeyHeader),
                                    Header(context, kAuthorizationHeader), PeerOf(context),
                                    method);
}

absl::Status CheckClusterCallers(const ClusterCallers& table) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  std::set<std::string> services;
  for (const auto& [method, rule] : table.rules()) {
    const google::protobuf::MethodDescriptor* rpc = pool->FindMethodByName(method);
    if (rpc == nullptr) return Invalid(absl::StrCat("cluster callers: no RPC ", method));
    services.insert(rpc->service()->full_name());
    if (rule.access != ClusterAccess::kNone && rule.callers.empty()) {
      return Invalid(absl::StrCat("cluster callers: ", method, " names no caller"));
    }
    for (const std::string& caller : rule.callers) {
      if (caller != kAnyCertificate && !IsTallyService(caller)) {
        return Invalid(absl::StrCat("cluster callers: ", method, " names ", caller,
                                    ", not a Tally service"));
      }
    }
  }
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    for (int m = 0; m < service->method_count(); ++m) {
      if (!table.rules().contains(service->method(m)->full_name())) {
        return Invalid(
            absl::StrCat("cluster callers: no rule for ", service->method(m)->full_name()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Authenticator>> AuthenticatorFromFlags(
    const Clock& clock, std::shared_ptr<const RevocationChecker> revocations,
    ClusterCallers cluster_callers, std::shared_ptr<const TokenVerifier> own_keys) {
  AuthenticatorOptions options;
  options.platform_key = absl::GetFlag(FLAGS_platform_key);
  if (!options.platform_key.empty() && options.platform_key.size() < kMinPlatformKeyBytes) {
    return Invalid(absl::StrCat("--platform_key must be at least ", kMinPlatformKeyBytes, " bytes"));
  }
  options.reauth_max_age = absl::GetFlag(FLAGS_reauth_max_age);
  if (options.reauth_max_age < absl::Seconds(1) || options.reauth_max_age > kMaxReauthMaxAge) {
    return Invalid("--reauth_max_age must be between 1s and 24h");
  }
  if (absl::Status s = CheckClusterCallers(cluster_callers); !s.ok()) return s;
  options.cluster_callers = std::move(cluster_callers);
  options.clock = &clock;
  JwtVerifierOptions token_options;
  token_options.issuer = absl::GetFlag(FLAGS_jwt_issuer);
  if (token_options.issuer.empty()) return Invalid("--jwt_issuer must not be empty");
  const absl::Duration jwks_refresh = absl::GetFlag(FLAGS_jwks_refresh_interval);
  if (jwks_refresh < absl::Seconds(1)) return Invalid("--jwks_refresh_interval must be at least 1s");
  const std::string jwks_file = absl::GetFlag(FLAGS_jwks_file);
  if ((own_keys != nullptr || !jwks_file.empty()) && revocations == nullptr) {
    // Tokens taken here must be checked against the revocation records, always.
    return Invalid("session tokens are taken here, but there is no Redis of revoked sessions");
  }
  if (own_keys != nullptr) {
    options.verifier = std::move(own_keys);
  } else if (!jwks_file.empty()) {
    auto logger = GetLogger("auth");
    absl::StatusOr<std::shared_ptr<const JwksFileVerifier>> verifier = JwksFileVerifier::Load(
        jwks_file, token_options, clock, jwks_refresh,
        [logger, jwks_file](const absl::Status& status, const std::vector<std::string>& kids) {
          if (status.ok()) {
            logger->info("{} changed: session tokens of key(s) {} are accepted now", jwks_file,
                         absl::StrJoin(kids, ", "));
          } else {
            logger->error("{} could not be reloaded, the keys in use stay: {}", jwks_file, status);
          }
        });
    if (!verifier.ok()) {
      return Invalid(absl::StrCat("--jwks_file ", jwks_file, ": ", verifier.status().message()));
    }
    options.verifier = *std::move(verifier);
  }
  options.revocations = std::move(revocations);
  return std::make_shared<const Authenticator>(std::move(options));
}

}  // namespace tally
