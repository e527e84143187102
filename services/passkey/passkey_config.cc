#include "services/passkey/passkey_config.h"

#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/postgres/pg_flags.h"
#include "common/redis/redis_config.h"
#include "common/redis/redis_flags.h"
#include "common/util/file.h"
#include "services/passkey/webauthn/origin.h"

ABSL_FLAG(std::string, postgres_schema, "passkey", "Schema this service owns and migrates.");
ABSL_FLAG(std::string, policy_addr, "127.0.0.1:50051",
          "The policy service (required level of a directory).");
ABSL_FLAG(absl::Duration, policy_timeout, absl::Seconds(2), "Deadline of each policy call.");
ABSL_FLAG(std::string, rp_id, "localhost",
          "WebAuthn relying party ID (a registrable domain of the login page's origin).");
ABSL_FLAG(std::string, rp_name, "Tally", "Relying party name shown by authenticators.");
ABSL_FLAG(std::string, rp_origins, "http://localhost:8080",
          "Comma-separated origins allowed in clientDataJSON (scheme://host[:port]; case, a "
          "trailing / and a default port do not matter).");
ABSL_FLAG(std::string, user_verification, "required",
          "required (refuse registrations and assertions without UV: a touch alone is not a "
          "login), preferred or discouraged.");
ABSL_FLAG(bool, allow_cross_origin, false, "Accept ceremonies run in cross-origin iframes.");
ABSL_FLAG(std::string, top_origins, "",
          "Comma-separated top-level origins allowed with --allow_cross_origin.");
ABSL_FLAG(std::string, attestation_ca_file, "",
          "PEM bundle of attestation root CAs; when set, x5c attestation chains must lead to "
          "one of them (self and none attestation stay accepted unless --require_attestation).");
ABSL_FLAG(bool, require_attestation, false,
          "Register only authenticators whose attestation chain leads to --attestation_ca_file "
          "and whose AAGUID is allowed (--allowed_aaguids, --allowed_aaguids_file); none and "
          "self attestation are refused.");
ABSL_FLAG(std::string, allowed_aaguids, "",
          "Comma-separated AAGUIDs (authenticator models) --require_attestation admits.");
ABSL_FLAG(std::string, allowed_aaguids_file, "",
          "A file of AAGUIDs --require_attestation admits: one per line, # starts a comment.");
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

// The origins of `flag`, written as browsers write them.
absl::Status TakeOrigins(absl::string_view flag, const std::string& text,
                         std::vector<std::string>& origins) {
  absl::StatusOr<std::vector<std::string>> normalized =
      webauthn::NormalizeOrigins(SplitCommas(text));
  if (!normalized.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", normalized.status().message()));
  }
  origins = *std::move(normalized);
  return absl::OkStatus();
}

absl::Status TakeRelyingParty(PasskeyOptions& options) {
  RpConfig& rp = options.default_rp;
  rp.rp_id = absl::GetFlag(FLAGS_rp_id);
  rp.rp_name = absl::GetFlag(FLAGS_rp_name);
  rp.user_verification = absl::GetFlag(FLAGS_user_verification);
  rp.allow_cross_origin = absl::GetFlag(FLAGS_allow_cross_origin);
  options.challenge_ttl = absl::GetFlag(FLAGS_challenge_ttl);
  options.rp_cache_ttl = absl::GetFlag(FLAGS_rp_cache_ttl);
  if (rp.rp_id.empty()) return absl::InvalidArgumentError("--rp_id is required");
  if (absl::Status s = TakeOrigins("--rp_origins", absl::GetFlag(FLAGS_rp_origins), rp.origins);
      !s.ok()) {
    return s;
  }
  if (rp.origins.empty()) return absl::InvalidArgumentError("--rp_origins needs an origin");
  if (absl::Status s =
          TakeOrigins("--top_origins", absl::GetFlag(FLAGS_top_origins), rp.top_origins);
      !s.ok()) {
    return s;
  }
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
  return absl::OkStatus();
}

absl::Status TakeAttestation(PasskeyOptions& options) {
  const std::string ca_file = absl::GetFlag(FLAGS_attestation_ca_file);
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(ca_file);
    absl::StatusOr<std::shared_ptr<const webauthn::TrustAnchors>> anchors =
        pem.ok() ? webauthn::TrustAnchors::FromPem(*pem) : pem.status();
    if (!anchors.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--attestation_ca_file: ", anchors.status().message()));
    }
    options.trust_anchors = *std::move(anchors);
  }
  auto allow = [&options](absl::string_view flag, const std::vector<std::string>& uuids) {
    for (const std::string& uuid : uuids) {
      absl::StatusOr<std::string> aaguid = webauthn::ParseAaguid(uuid);
      if (!aaguid.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": ", aaguid.status().message()));
      }
      options.allowed_aaguids.push_back(*std::move(aaguid));
    }
    return absl::OkStatus();
  };
  if (absl::Status s =
          allow("--allowed_aaguids", SplitCommas(absl::GetFlag(FLAGS_allowed_aaguids)));
      !s.ok()) {
    return s;
  }
  if (const std::string file = absl::GetFlag(FLAGS_allowed_aaguids_file); !file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allowed_aaguids_file: ", text.status().message()));
    }
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
      if (!line.empty()) lines.emplace_back(line);
    }
    if (absl::Status s = allow("--allowed_aaguids_file", lines); !s.ok()) return s;
  }
  options.require_attestation = absl::GetFlag(FLAGS_require_attestation);
  if (!options.require_attestation) {
    // A list nobody enforces would only look like protection.
    if (!options.allowed_aaguids.empty()) {
      return absl::InvalidArgumentError("--allowed_aaguids needs --require_attestation");
    }
    return absl::OkStatus();
  }
  if (options.trust_anchors == nullptr) {
    return absl::InvalidArgumentError("--require_attestation needs --attestation_ca_file");
  }
  if (options.allowed_aaguids.empty()) {
    return absl::InvalidArgumentError(
        "--require_attestation needs --allowed_aaguids or --allowed_aaguids_file");
  }
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
    s = TakeValue(ServiceRedisOptions(RedisSettingsFromFlags(), "tally-passkey"),
                  &config.redis);
  }
  if (s.ok()) s = TakeRelyingParty(config.passkey);
  if (s.ok()) s = TakeAttestation(config.passkey);
  if (s.ok() && config.policy_timeout <= absl::ZeroDuration()) {
    s = absl::InvalidArgumentError("--policy_timeout must be > 0");
  }
  if (!s.ok()) return s;
  return config;
}

}  // namespace tally::passkey
