#pragma once

#include "common/redis/redis_config.h"

namespace tally {

// The Redis flags every service shares (one home, so each gets cluster mode at once):
// --redis_url, --redis_cluster_nodes, --redis_user, --redis_min_replica_acks,
// --redis_retry_timeout, each also from TALLY_<NAME>, and the password from
// TALLY_REDIS_PASSWORD, which is read from the environment only: a password never belongs on a
// command line. Services pass the result to ServiceRedisOptions.
RedisSettings RedisSettingsFromFlags();

}  // namespace tally
