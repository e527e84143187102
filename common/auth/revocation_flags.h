#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace tally {

// The Redis of the services whose only use of it is the revocation check of session tokens
// (policy, credential), from the shared flags (common/redis/redis_flags.h): the Redis to check
// in (for RevocationCheckerFor), or nullopt when neither --redis_url nor --redis_cluster_nodes
// is set. Every bearer token is checked there; when it cannot be reached, token calls get
// UNAVAILABLE. Bad values are INVALID_ARGUMENT naming the flag (ServiceRedisOptions).
absl::StatusOr<std::optional<RedisOptions>> RevocationRedisFromFlags(
    absl::string_view client_name);

}  // namespace tally
