#include "common/auth/revocation_flags.h"

#include <string>

#include "common/redis/redis_config.h"
#include "common/redis/redis_flags.h"

namespace tally {

absl::StatusOr<std::optional<RedisOptions>> RevocationRedisFromFlags(
    absl::string_view client_name) {
  const RedisSettings settings = RedisSettingsFromFlags();
  if (!settings.given()) return std::nullopt;
  absl::StatusOr<RedisOptions> options = ServiceRedisOptions(settings, client_name);
  if (!options.ok()) return options.status();
  return *std::move(options);
}

}  // namespace tally
