// tally-passkey: WebAuthn registration and authentication, stored passkeys (DESIGN.md §2).
// Wiring only: the logic is PasskeyManager, the WebAuthn checks are services/passkey/webauthn.

#include <fstream>
#include <memory>
#include <sstream>

#include <grpcpp/create_channel.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/auth/redis_revocation_store.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "common/postgres/pg_flags.h"
#include "common/redis/redis_client.h"
#include "common/server/call_auth.h"
#include "common/server/peer_channel.h"
#include "common/server/server_runner.h"
#include "services/passkey/passkey_manager.h"
#include "services/passkey/passkey_metrics.h"
#include "services/passkey/passkey_service.h"
#include "services/passkey/pg_passkey_store.h"
#include "services/passkey/policy_level_source.h"
#include "services/passkey/redis_challenge_store.h"

ABSL_FLAG(std::string, postgres_schema, "passkey", "Schema this service owns and migrates.");
ABSL_FLAG(std::string, redis_url, "",
          "Redis URL redis://[[user]:password@]host[:port][/db] for challenges; prefer "
          "TALLY_REDIS_URL.");
ABSL_FLAG(std::string, policy_addr, "127.0.0.1:50051",
          "The policy service (required level of a directory).");
ABSL_FLAG(absl::Duration, policy_timeout, absl::Seconds(2), "Deadline of each policy call.");
ABSL_FLAG(std::string, rp_id, "localhost",
          "WebAuthn relying party ID (a registrable domain of the login page's origin).");
ABSL_FLAG(std::string, rp_name, "Tally", "Relying party name shown by authenticators.");
ABSL_FLAG(std::string, rp_origins, "http://localhost:8080",
          "Comma-separated origins allowed in clientDataJSON (scheme://host[:port]).");
ABSL_FLAG(std::string, user_verification, "preferred",
          "required (refuse assertions without UV), preferred or discouraged.");
ABSL_FLAG(bool, allow_cross_origin, false, "Accept ceremonies run in cross-origin iframes.");
ABSL_FLAG(std::string, top_origins, "",
          "Comma-separated top-level origins allowed with --allow_cross_origin.");
ABSL_FLAG(std::string, attestation_ca_file, "",
          "PEM bundle of attestation root CAs; when set, x5c attestation chains must lead to "
          "one of them (self and none attestation stay accepted).");
ABSL_FLAG(absl::Duration, challenge_ttl, absl::Minutes(5), "Lifetime of a ceremony's challenge.");
ABSL_FLAG(absl::Duration, rp_cache_ttl, absl::Seconds(2),
          "How long a directory's relying-party row is reused before it is read again (0: at "
          "every ceremony).");

namespace {

constexpr int kDefaultPort = 50054;

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  tally::BlockTerminationSignals();
  tally::DisableMutexDeadlockDetection();
  tally::IgnoreSigpipe();
  tally::ParseFlags(argc, argv, "tally-passkey: WebAuthn passkeys");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  auto logger = tally::GetLogger("passkey");

  absl::StatusOr<tally::ServerOptions> server_options = tally::ServerOptionsFromFlags(kDefaultPort);
  if (!server_options.ok()) tally::ExitBadConfig(argv[0], server_options.status());
  const tally::Clock& clock = tally::SystemClock::Get();
  absl::StatusOr<tally::PgOptions> pg_options = tally::PgOptionsFromFlags();
  if (!pg_options.ok()) tally::ExitBadConfig(argv[0], pg_options.status());
  if (absl::GetFlag(FLAGS_redis_url).empty()) {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError("--redis_url is required"));
  }
  absl::StatusOr<tally::RedisOptions> redis_options =
      tally::ParseRedisUrl(absl::GetFlag(FLAGS_redis_url));
  if (!redis_options.ok()) tally::ExitBadConfig(argv[0], redis_options.status());
  redis_options->client_name = "tally-passkey";
  // Never connects here. Revoked sessions are checked in this Redis too.
  auto redis = std::make_shared<tally::RedisClient>(*redis_options);
  auto authenticator = tally::AuthenticatorFromFlags(
      clock, std::make_shared<const tally::RedisRevocationStore>(redis, clock));
  if (!authenticator.ok()) tally::ExitBadConfig(argv[0], authenticator.status());

  tally::passkey::PasskeyOptions options;
  options.default_rp.rp_id = absl::GetFlag(FLAGS_rp_id);
  options.default_rp.rp_name = absl::GetFlag(FLAGS_rp_name);
  options.default_rp.origins = SplitCommas(absl::GetFlag(FLAGS_rp_origins));
  options.default_rp.user_verification = absl::GetFlag(FLAGS_user_verification);
  options.default_rp.allow_cross_origin = absl::GetFlag(FLAGS_allow_cross_origin);
  options.default_rp.top_origins = SplitCommas(absl::GetFlag(FLAGS_top_origins));
  options.challenge_ttl = absl::GetFlag(FLAGS_challenge_ttl);
  options.rp_cache_ttl = absl::GetFlag(FLAGS_rp_cache_ttl);
  if (options.default_rp.rp_id.empty()) {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError("--rp_id is required"));
  }
  if (options.default_rp.origins.empty()) {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError("--rp_origins needs an origin"));
  }
  const std::string& uv = options.default_rp.user_verification;
  if (uv != "required" && uv != "preferred" && uv != "discouraged") {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError(
                                      "--user_verification must be required, preferred or "
                                      "discouraged"));
  }
  if (options.challenge_ttl <= absl::ZeroDuration() || options.challenge_ttl > absl::Hours(1)) {
    tally::ExitBadConfig(argv[0],
                         absl::InvalidArgumentError("--challenge_ttl must be in (0, 1h]"));
  }
  if (options.rp_cache_ttl < absl::ZeroDuration() || options.rp_cache_ttl > absl::Minutes(1)) {
    tally::ExitBadConfig(argv[0],
                         absl::InvalidArgumentError("--rp_cache_ttl must be in [0, 1m]"));
  }
  if (absl::GetFlag(FLAGS_policy_timeout) <= absl::ZeroDuration()) {
    tally::ExitBadConfig(argv[0], absl::InvalidArgumentError("--policy_timeout must be > 0"));
  }
  if (const std::string ca_file = absl::GetFlag(FLAGS_attestation_ca_file); !ca_file.empty()) {
    std::ifstream in(ca_file);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in) {
      tally::ExitBadConfig(argv[0], absl::InvalidArgumentError("cannot read --attestation_ca_file"));
    }
    auto anchors = tally::webauthn::TrustAnchors::FromPem(pem.str());
    if (!anchors.ok()) tally::ExitBadConfig(argv[0], anchors.status());
    options.trust_anchors = *anchors;
  }

  auto pool = std::make_shared<tally::PgPool>(*pg_options);
  tally::passkey::PgPasskeyStore store(pool, absl::GetFlag(FLAGS_postgres_schema));
  if (absl::Status s = tally::MigrateAtStartup([&store] { return store.Migrate(); }, *logger);
      !s.ok()) {
    logger->critical("cannot migrate schema {}: {}", absl::GetFlag(FLAGS_postgres_schema), s);
    return 1;
  }
  tally::passkey::RedisChallengeStore challenges(redis);
  // The same mutual TLS files as the server side (plaintext when none are configured).
  auto policy_channel = tally::MakePeerChannel(absl::GetFlag(FLAGS_policy_addr),
                                               tally::MakeChannelCredentials(server_options->tls));
  tally::passkey::PolicyLevelSource levels(
      tally::policy::v1::PolicyService::NewStub(policy_channel),
      absl::GetFlag(FLAGS_policy_timeout));

  tally::ServerRunner runner(*server_options, tally::GetLogger("server"));
  tally::passkey::PrometheusCeremonyObserver observer(runner.metrics().registry());
  tally::passkey::PasskeyManager manager(store, challenges, levels, clock,
                                         tally::CsprngRandom::Get(), options, &observer);
  tally::passkey::PasskeyServiceImpl service(manager, *authenticator);
  runner.AddService(&service);
  runner.AddHealthCheck("postgres", [&store] { return store.Ping(); });
  runner.AddHealthCheck("redis", [&challenges] { return challenges.Ping(); });
  logger->info("relying party {} ({}), origins {}, user verification {}",
               options.default_rp.rp_id, options.default_rp.rp_name,
               absl::GetFlag(FLAGS_rp_origins), options.default_rp.user_verification);
  if (absl::Status s = runner.Start(); !s.ok()) {
    logger->critical("{}", s);
    return 1;
  }
  runner.RunUntilSignal();
  return 0;
}
