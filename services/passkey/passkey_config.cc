#include "services/passkey/passkey_config.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/postgres/pg_flags.h"
#include "common/redis/redis_config.h"

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

namespace tally::passkey {
namespace {

constexpr int kDefaultPort = 50054;

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

absl::Status TakeRelyingParty(PasskeyOptions& options) {
  RpConfig& rp = options.default_rp;
  rp.rp_id = absl::GetFlag(FLAGS_rp_id);
  rp.rp_name = absl::GetFlag(FLAGS_rp_name);
  rp.origins = SplitCommas(absl::GetFlag(FLAGS_rp_origins));
  rp.user_verification = absl::GetFlag(FLAGS_user_verification);
  rp.allow_cross_origin = absl::GetFlag(FLAGS_allow_cross_origin);
  rp.top_origins = SplitCommas(absl::GetFlag(FLAGS_top_origins));
  options.challenge_ttl = absl::GetFlag(FLAGS_challenge_ttl);
  options.rp_cache_ttl = absl::GetFlag(FLAGS_rp_cache_ttl);
  if (rp.rp_id.empty()) return absl::InvalidArgumentError("--rp_id is required");
  if (rp.origins.empty()) return absl::InvalidArgumentError("--rp_origins needs an origin");
  if (rp.user_verification != "required" && rp.user_verification != "preferred" &&
      rp.user_verification != "discouraged") {
    return absl::InvalidArgumentError(
        "--user_verification must be required, preferred or discouraged");
  }
  if (options.challenge_ttl <= absl::ZeroDuration() || options.challenge_ttl > absl::Hours(1)) {
    return absl::InvalidArgumentError("--challenge_ttl must be in (0, 1h]");
  }
  if (options.rp_cache_ttl < absl::ZeroDuration() || options.rp_cache_ttl > absl::Minutes(1)) {
    return absl::InvalidArgumentError("--rp_cache_ttl must be in [0, 1m]");
  }
  const std::string ca_file = absl::GetFlag(FLAGS_attestation_ca_file);
  if (ca_file.empty()) return absl::OkStatus();
  std::ifstream in(ca_file);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in) return absl::InvalidArgumentError("cannot read --attestation_ca_file");
  absl::StatusOr<std::shared_ptr<const webauthn::TrustAnchors>> anchors =
      webauthn::TrustAnchors::FromPem(pem.str());
  if (!anchors.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--attestation_ca_file: ", anchors.status().message()));
  }
  options.trust_anchors = *std::move(anchors);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PasskeyServerConfig> PasskeyServerConfigFromFlags() {
  PasskeyServerConfig config;
  config.postgres_schema = absl::GetFlag(FLAGS_postgres_schema);
  config.policy_addr = absl::GetFlag(FLAGS_policy_addr);
  config.policy_timeout = absl::GetFlag(FLAGS_policy_timeout);
  absl::Status s = TakeValue(ServerOptionsFromFlags(kDefaultPort), &config.server);
  if (s.ok()) s = TakeValue(PgOptionsFromFlags(), &config.postgres);
  if (s.ok()) {
    s = TakeValue(ServiceRedisOptions(absl::GetFlag(FLAGS_redis_url), "tally-passkey"),
                  &config.redis);
  }
  if (s.ok()) s = TakeRelyingParty(config.passkey);
  if (s.ok() && config.policy_timeout <= absl::ZeroDuration()) {
    s = absl::InvalidArgumentError("--policy_timeout must be > 0");
  }
  if (!s.ok()) return s;
  return config;
}

}  // namespace tally::passkey
