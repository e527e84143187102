#pragma once

#include <memory>
#include <string>

#include "common/redis/redis_client.h"
#include "services/otp/delivery_queue.h"

namespace tally::otp {

// The delivery queue's names (--otp_queue, --otp_queue_shards, --otp_consumer_group): shard i is
// the streams {<queue>-<i>}:deliveries and {<queue>-<i>}:dead (otp_keys.h).
struct QueueNames {
  std::string queue = "otp-q";
  int shards = 8;
  std::string group = "otp-senders";
  int64_t dead_max_length = 10000;  // per shard, approximate trim (MAXLEN ~)
};

// DeliveryQueue on Redis Streams with a consumer group per shard (XADD, XREADGROUP,
// XAUTOCLAIM, XACK). Every command and script touches the keys of one shard: one Redis Cluster
// slot; ReadEvery, which reads every shard at once, only on one Redis node. Read blocks on the
// server: give this client a command timeout above the block time.
class RedisDeliveryQueue final : public DeliveryQueue {
 public:
  RedisDeliveryQueue(std::shared_ptr<RedisClient> redis, QueueNames names);

  int shards() const override { return names_.shards; }
  absl::StatusOr<std::string> Enqueue(absl::string_view directory_id,
                                      const JobFields& fields) override;
  absl::Status Reach(absl::string_view directory_id) override;
  absl::Status EnsureGroups() override;
  absl::StatusOr<std::vector<QueuedJob>> Read(int shard, absl::string_view consumer, int count,
                                              absl::Duration block) override;
  bool ReadsEveryShard() const override;
  absl::StatusOr<std::vector<QueuedJob>> ReadEvery(absl::string_view consumer, int count,
                                                   absl::Duration block) override;
  absl::StatusOr<std::vector<QueuedJob>> Claim(int shard, absl::string_view consumer,
                                               absl::Duration min_idle, int count) override;
  absl::StatusOr<int> Touch(const QueuedJob& job, absl::string_view consumer) override;
  absl::Status Ack(const QueuedJob& job) override;
  absl::Status Bury(const QueuedJob& job, const DeadLetter& letter) override;
  absl::StatusOr<bool> ChallengeLive(absl::string_view directory_id,
                                     absl::string_view challenge_id) override;
  absl::StatusOr<QueueStats> Stats() override;
  absl::StatusOr<int> PruneConsumers(absl::Duration idle) override;
  absl::StatusOr<DeadLetterPage> ListDead(int count, absl::string_view page_token) override;

 private:
  absl::Status EnsureGroup(int shard);
  // XREADGROUP over the streams of `shards` (one slot each in a Redis Cluster).
  absl::StatusOr<std::vector<QueuedJob>> ReadShards(const std::vector<int>& shards,
                                                    absl::string_view consumer, int count,
                                                    absl::Duration block);
  std::string Deliveries(int shard) const;
  std::string Dead(int shard) const;

  std::shared_ptr<RedisClient> redis_;
  QueueNames names_;
};

}  // namespace tally::otp
