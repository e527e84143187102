#include "common/server/call_auth.h"

#include <chrono>
#include <optional>
#include <string_view>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"

ABSL_FLAG(std::string, platform_key, "",
          "Key that operators' automation presents as x-tally-platform-key (a secret: prefer the "
          "TALLY_PLATFORM_KEY environment variable). Empty: platform calls are refused.");
ABSL_FLAG(std::string, jwks_file, "",
          "JWKS (RFC 7517) file with the orchestrator's public keys for session tokens. Empty: "
          "bearer tokens are refused.");
ABSL_FLAG(std::string, jwt_issuer, "tally", "Expected \"iss\" of session tokens.");

namespace tally {
namespace {

constexpr size_t kMinPlatformKeyBytes = 16;

std::optional<std::string_view> Header(const grpc::ServerContext& context,
                                       std::string_view name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

}  // namespace

absl::Time CallDeadline(const grpc::ServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  // gRPC reports "no deadline" as the largest time point, which absl::FromChrono cannot hold.
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

absl::StatusOr<Caller> AuthenticateCall(const Authenticator& authenticator,
                                        const grpc::ServerContext& context) {
  return authenticator.Authenticate(Header(context, kPlatformKeyHeader),
                                    Header(context, kAuthorizationHeader));
}

absl::StatusOr<std::shared_ptr<const Authenticator>> AuthenticatorFromFlags(
    const Clock& clock, std::shared_ptr<const RevocationChecker> revocations) {
  const std::string platform_key = absl::GetFlag(FLAGS_platform_key);
  if (!platform_key.empty() && platform_key.size() < kMinPlatformKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--platform_key must be at least ", kMinPlatformKeyBytes, " bytes"));
  }
  JwtVerifierOptions options;
  options.issuer = absl::GetFlag(FLAGS_jwt_issuer);
  if (options.issuer.empty()) return absl::InvalidArgumentError("--jwt_issuer must not be empty");
  std::shared_ptr<const JwtVerifier> verifier;
  const std::string jwks_file = absl::GetFlag(FLAGS_jwks_file);
  if (!jwks_file.empty()) {
    absl::StatusOr<JwtVerifier> loaded = LoadJwksFile(jwks_file, options, clock);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--jwks_file ", jwks_file, ": ", loaded.status().message()));
    }
    verifier = std::make_shared<const JwtVerifier>(*std::move(loaded));
  }
  if (verifier != nullptr && revocations == nullptr) {
    GetLogger("auth")->warn(
        "session revocation is NOT enforced (no Redis configured, see --redis_url and "
        "--redis_cluster_nodes): a revoked session token is accepted here until it expires");
  }
  return std::make_shared<const Authenticator>(platform_key, verifier, std::move(revocations));
}

}  // namespace tally
