#include "common/redis/cluster_router.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis/key_slot.h"

namespace tally {

ClusterRouter::ClusterRouter(const RedisOptions& options, bool guard_sigpipe)
    : options_(options), guard_sigpipe_(guard_sigpipe), slot_primary_(kClusterSlots, -1) {}

absl::StatusOr<std::shared_ptr<NodePool>> ClusterRouter::PrimaryFor(int slot, absl::Time deadline,
                                                                   uint64_t* epoch) {
  for (int round = 0; round < 2; ++round) {
    {
      absl::ReaderMutexLock lock(&mu_);
      *epoch = epoch_;
      int index = -1;
      if (slot == kAnySlot) {
        if (!primaries_.empty()) index = 0;
      } else {
        index = slot_primary_[slot];
      }
      if (index >= 0) return primaries_[index];
    }
    if (round == 0) Refresh(*epoch, deadline);
  }
  absl::MutexLock lock(&mu_);
  if (!last_load_error_.ok()) {
    return absl::UnavailableError(absl::StrCat("redis unavailable: no slot map (",
                                               last_load_error_.message(), ")"));
  }
  return absl::UnavailableError(absl::StrCat("redis unavailable: no primary serves slot ", slot));
}

std::shared_ptr<NodePool> ClusterRouter::PoolFor(const RedisNode& node) {
  absl::MutexLock lock(&mu_);
  return PoolForLocked(node);
}

std::shared_ptr<NodePool> ClusterRouter::PoolForLocked(const RedisNode& node) {
  std::shared_ptr<NodePool>& pool = pools_[node.address()];
  if (pool == nullptr) pool = std::make_shared<NodePool>(node, options_, guard_sigpipe_);
  return pool;
}

int ClusterRouter::PrimaryIndexLocked(const RedisNode& node) {
  for (size_t i = 0; i < primaries_.size(); ++i) {
    if (primaries_[i]->node() == node) return static_cast<int>(i);
  }
  primaries_.push_back(PoolForLocked(node));
  return static_cast<int>(primaries_.size()) - 1;
}

void ClusterRouter::Moved(int slot, const RedisNode& node) {
  if (slot < 0 || slot >= kClusterSlots) return;
  absl::MutexLock lock(&mu_);
  slot_primary_[slot] = PrimaryIndexLocked(node);
}

void ClusterRouter::Refresh(uint64_t epoch, absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (epoch_ != epoch) return;  // loaded since the caller looked
    if (loading_) {
      // One load at a time: wait for the one under way, but not past this caller's deadline.
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](bool* loading) { return !*loading; }, &loading_),
                            deadline);
      return;
    }
    if (absl::Now() - last_load_ < kMinRefreshInterval) return;
    loading_ = true;
    last_load_ = absl::Now();
  }
  // On failure the old map stays, and the callers retry with it.
  const absl::Status loaded = Load(deadline);
  absl::MutexLock lock(&mu_);
  loading_ = false;
  last_load_error_ = loaded;
}

std::vector<std::shared_ptr<NodePool>> ClusterRouter::Primaries() {
  absl::ReaderMutexLock lock(&mu_);
  return primaries_;
}

absl::StatusOr<std::vector<ClusterShard>> ClusterRouter::AskForShards(NodePool& pool,
                                                                     absl::Time deadline) {
  absl::StatusOr<NodePool::Lease> lease = pool.Acquire(deadline);
  if (!lease.ok()) return lease.status();
  const std::vector<std::string_view> shards_command = {"CLUSTER", "SHARDS"};
  absl::StatusOr<RedisReply> reply = lease->RoundTrip(shards_command, deadline);
  if (!reply.ok()) return reply.status();
  if (!reply->IsError()) return ParseClusterShards(*reply, pool.node());
  // Before Redis 7 there is no CLUSTER SHARDS; CLUSTER SLOTS says the same per slot range.
  if (!absl::StartsWithIgnoreCase(reply->str(), "ERR unknown subcommand")) {
    return absl::UnavailableError(
        absl::StrCat("redis unavailable: CLUSTER SHARDS: ", SanitizeRedisError(reply->str())));
  }
  const std::vector<std::string_view> slots_command = {"CLUSTER", "SLOTS"};
  reply = lease->RoundTrip(slots_command, deadline);
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) {
    return absl::UnavailableError(
        absl::StrCat("redis unavailable: CLUSTER SLOTS: ", SanitizeRedisError(reply->str())));
  }
  return ParseClusterSlots(*reply, pool.node());
}

absl::Status ClusterRouter::Load(absl::Time deadline) {
  // Whom to ask: the primaries of the map first (they know best), then every other node met so
  // far, then the seeds.
  std::vector<std::shared_ptr<NodePool>> candidates;
  {
    absl::MutexLock lock(&mu_);
    candidates = primaries_;
    for (const auto& [address, pool] : pools_) {
      if (std::find(candidates.begin(), candidates.end(), pool) == candidates.end()) {
        candidates.push_back(pool);
      }
    }
    for (const RedisNode& seed : options_.cluster_nodes) {
      std::shared_ptr<NodePool> pool = PoolForLocked(seed);
      if (std::find(candidates.begin(), candidates.end(), pool) == candidates.end()) {
        candidates.push_back(pool);
      }
    }
  }
  absl::Status last = absl::UnavailableError("redis unavailable: no cluster node to ask");
  for (const std::shared_ptr<NodePool>& candidate : candidates) {
    if (absl::Now() >= deadline) break;
    absl::StatusOr<std::vector<ClusterShard>> shards = AskForShards(*candidate, deadline);
    if (!shards.ok()) {
      last = shards.status();
      continue;
    }
    if (shards->empty()) {
      last = absl::UnavailableError("redis unavailable: the cluster serves no slots");
      continue;
    }
    absl::MutexLock lock(&mu_);
    std::vector<std::shared_ptr<NodePool>> primaries;
    std::vector<int> slot_primary(kClusterSlots, -1);
    for (const ClusterShard& shard : *shards) {
      primaries.push_back(PoolForLocked(shard.primary));
      for (const auto& [first, last_slot] : shard.slots) {
        for (int slot = first; slot <= last_slot; ++slot) {
          slot_primary[slot] = static_cast<int>(primaries.size()) - 1;
        }
      }
    }
    primaries_ = std::move(primaries);
    slot_primary_ = std::move(slot_primary);
    // Pools of nodes that serve nothing any more go (leases in flight keep theirs alive), save
    // the seeds, which the next load may need.
    for (auto it = pools_.begin(); it != pools_.end();) {
      const bool wanted =
          std::find(primaries_.begin(), primaries_.end(), it->second) != primaries_.end() ||
          std::find(options_.cluster_nodes.begin(), options_.cluster_nodes.end(),
                    it->second->node()) != options_.cluster_nodes.end();
      if (wanted) {
        ++it;
      } else {
        pools_.erase(it++);
      }
    }
    ++epoch_;
    return absl::OkStatus();
  }
  return last;
}

}  // namespace tally
