#pragma once

// Internal to tally_redis: RedisClient's slot map in cluster mode.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis/cluster_topology.h"
#include "common/redis/node_pool.h"
#include "common/redis/redis_options.h"

namespace tally {

// Which primary serves each of the 16384 slots, and a NodePool per primary. The map is loaded
// on first use from any node it knows (the seeds at first), and again after a MOVED or when a
// primary cannot be reached, at most every kMinRefreshInterval; calls go on with the map they
// have while it loads. Thread-safe.
class ClusterRouter {
 public:
  static constexpr absl::Duration kMinRefreshInterval = absl::Milliseconds(100);

  ClusterRouter(const RedisOptions& options, bool guard_sigpipe);

  // The primary that serves `slot` (kAnySlot: the first primary of the map), loading the map
  // first when there is none yet. UNAVAILABLE when no map could be loaded before `deadline`.
  // `epoch` receives the map's version, for Refresh.
  absl::StatusOr<std::shared_ptr<NodePool>> PrimaryFor(int slot, absl::Time deadline,
                                                       uint64_t* epoch);

  // The pool of `node`, made when new (an ASK may name a node the map does not have yet).
  std::shared_ptr<NodePool> PoolFor(const RedisNode& node);

  // MOVED: `slot` is served by `node` from now on. The rest of the map is likely stale too (a
  // failover or a resharding moves many slots): the caller refreshes it.
  void Moved(int slot, const RedisNode& node);

  // Loads the map again, unless it changed since the caller read version `epoch` or was loaded
  // less than kMinRefreshInterval ago. Quietly keeps the old map when no node answers.
  void Refresh(uint64_t epoch, absl::Time deadline);

  // Every primary of the map now (none before the first call), for commands that concern every
  // node (INFO in tests and benchmarks).
  std::vector<std::shared_ptr<NodePool>> Primaries();

  // Maps loaded since construction (the first one included).
  int64_t map_loads() {
    absl::ReaderMutexLock lock(&mu_);
    return static_cast<int64_t>(epoch_);
  }

 private:
  absl::Status Load(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<ClusterShard>> AskForShards(NodePool& pool, absl::Time deadline);
  std::shared_ptr<NodePool> PoolForLocked(const RedisNode& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int PrimaryIndexLocked(const RedisNode& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisOptions options_;
  const bool guard_sigpipe_;

  absl::Mutex mu_;
  // A load is under way (outside mu_): concurrent callers wait for it instead of each
  // running their own.
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_load_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_load_error_ ABSL_GUARDED_BY(mu_);
  // Maps loaded so far: a caller that saw an older one need not load another.
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // slot → index into primaries_; -1 while no primary is known for the slot.
  std::vector<int> slot_primary_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<NodePool>> primaries_ ABSL_GUARDED_BY(mu_);
  // Every node's pool by address, kept across loads so connections survive them.
  absl::flat_hash_map<std::string, std::shared_ptr<NodePool>> pools_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally
