#include "common/auth/revocation_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "common/redis/redis_config.h"

ABSL_FLAG(std::string, redis_url, "",
          "Redis where revoked sessions are recorded, redis://[[user]:password@]host[:port][/db] "
          "(required; prefer TALLY_REDIS_URL). Every bearer token is checked there; when Redis "
          "cannot be reached, token calls get UNAVAILABLE (platform-key and cluster calls need no "
          "Redis).");

namespace tally {

absl::StatusOr<RedisOptions> RevocationRedisFromFlags(absl::string_view client_name) {
  return ServiceRedisOptions(absl::GetFlag(FLAGS_redis_url), client_name);
}

}  // namespace tally
