#include "common/auth/revocation_flags.h"

#include <string>

#include "common/redis/redis_config.h"
#include "common/redis/redis_flags.h"

namespace tally {

absl::StatusOr<RedisOptions> RevocationRedisFromFlags(absl::string_view client_name) {
  return ServiceRedisOptions(RedisSettingsFromFlags(), client_name);
}

}  // namespace tally
