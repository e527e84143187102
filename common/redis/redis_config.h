#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace tally {

// A service's Redis from the values of its flags: `url` (--redis_url, required) and, for the
// services that have the flag, `pool_size` (--redis_pool_size, at least 1); without it the pool
// keeps RedisOptions' default. `client_name` names the connections in CLIENT LIST. Bad values are
// INVALID_ARGUMENT naming the flag, never repeating the URL (it may hold a password).
absl::StatusOr<RedisOptions> ServiceRedisOptions(absl::string_view url,
                                                 absl::string_view client_name,
                                                 std::optional<int> pool_size = std::nullopt);

}  // namespace tally
