#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace tally {

// The Redis of the services whose only use of it is the revocation check of session tokens
// (policy, credential), from the shared flags (common/redis/redis_flags.h): the Redis every
// bearer token is checked in (for RevocationStoreFor). Required, like every service's Redis,
// through the one check of ServiceRedisOptions: a service that takes tokens never runs without
// the revocation records. Bad values are INVALID_ARGUMENT naming the flag.
absl::StatusOr<RedisOptions> RevocationRedisFromFlags(absl::string_view client_name);

}  // namespace tally
