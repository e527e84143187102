#pragma once

#include <memory>
#include <string>

#include "common/redis/redis_client.h"
#include "services/otp/delivery_queue.h"

namespace tally::otp {

struct StreamNames {
  std::string deliveries = "otp:deliveries";
  std::string dead = "otp:dead";
  std::string group = "otp-senders";
  int64_t dead_max_length = 10000;  // approximate trim (MAXLEN ~)
};

// DeliveryQueue on a Redis Stream with a consumer group (XREADGROUP, XAUTOCLAIM, XACK).
// Read uses a blocking command: give this client a command timeout above the block time.
class RedisDeliveryQueue final : public DeliveryQueue {
 public:
  RedisDeliveryQueue(std::shared_ptr<RedisClient> redis, StreamNames names);

  absl::Status EnsureGroup() override;
  absl::StatusOr<std::vector<QueuedJob>> Read(absl::string_view consumer, int count,
                                              absl::Duration block) override;
  absl::StatusOr<std::vector<QueuedJob>> Claim(absl::string_view consumer,
                                               absl::Duration min_idle, int count) override;
  absl::StatusOr<int> Touch(absl::string_view id, absl::string_view consumer) override;
  absl::Status Ack(absl::string_view id) override;
  absl::Status Bury(absl::string_view id, const DeadLetter& letter) override;
  absl::StatusOr<bool> ChallengeLive(absl::string_view directory_id,
                                     absl::string_view challenge_id) override;
  absl::StatusOr<QueueStats> Stats() override;
  absl::StatusOr<int> PruneConsumers(absl::Duration idle) override;
  absl::StatusOr<std::vector<DeadLetter>> ListDead(int count) override;

 private:
  std::shared_ptr<RedisClient> redis_;
  StreamNames names_;
};

}  // namespace tally::otp
