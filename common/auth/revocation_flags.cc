#include "common/auth/revocation_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "common/redis/redis_config.h"

ABSL_FLAG(std::string, redis_url, "",
          "Redis where the orchestrator records revoked sessions, redis://[[user]:password@]host"
          "[:port][/db] (prefer TALLY_REDIS_URL). Every bearer token is checked there; when Redis "
          "cannot be reached, token calls get UNAVAILABLE (platform-key and cluster calls need no "
          "Redis). Empty: revoked tokens are accepted until they expire (a warning at start-up).");

namespace tally {

absl::StatusOr<std::optional<RedisOptions>> RevocationRedisFromFlags(
    absl::string_view client_name) {
  const std::string url = absl::GetFlag(FLAGS_redis_url);
  if (url.empty()) return std::nullopt;
  absl::StatusOr<RedisOptions> options = ServiceRedisOptions(url, client_name);
  if (!options.ok()) return options.status();
  return *std::move(options);
}

}  // namespace tally
