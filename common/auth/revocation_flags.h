#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace tally {

// --redis_url of the services whose only use of Redis is the revocation check of session tokens
// (policy, credential; the others keep their own data there and define their own flag): the
// Redis to check in (for RevocationCheckerFor), or nullopt when the flag is empty. Bad values
// are INVALID_ARGUMENT naming the flag (ServiceRedisOptions).
absl::StatusOr<std::optional<RedisOptions>> RevocationRedisFromFlags(
    absl::string_view client_name);

}  // namespace tally
