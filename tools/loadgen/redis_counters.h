#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"

namespace tally::loadgen {

// What Redis has served so far, from INFO: read events (one per client round trip; several
// pipelined commands may share one) and calls per command, counting commands that scripts
// issue under their own names.
struct RedisCounters {
  int64_t reads_processed = 0;
  std::map<std::string, int64_t> calls;  // "evalsha" → calls
  int nodes = 1;  // primaries summed (a Redis Cluster), each answering one INFO per sample
};

// Parses the text of `INFO stats` + `INFO commandstats` (or plain `INFO all`).
absl::StatusOr<RedisCounters> ParseRedisInfo(absl::string_view info);

// The counters of the one Redis, or summed over every primary of a Redis Cluster.
absl::StatusOr<RedisCounters> ReadRedisCounters(RedisClient& redis);

// after - before, per command (commands without change left out). The INFO that took the
// `after` sample is excluded: one read and one `info` call on each node.
RedisCounters Delta(const RedisCounters& before, const RedisCounters& after);

}  // namespace tally::loadgen
