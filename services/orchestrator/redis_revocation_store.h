#pragma once

#include <memory>

#include "common/redis/redis_client.h"
#include "common/util/clock.h"
#include "services/orchestrator/session_manager.h"

namespace tally::orchestrator {

// `{dir}:revoked:<sid>` with a TTL that ends when the token would have expired anyway.
class RedisRevocationStore final : public RevocationStore {
 public:
  RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock);

  absl::Status Revoke(absl::string_view directory_id, absl::string_view session_id,
                      absl::Time until) override;
  absl::StatusOr<bool> IsRevoked(absl::string_view directory_id,
                                 absl::string_view session_id) override;

 private:
  std::shared_ptr<RedisClient> redis_;
  const Clock& clock_;
};

}  // namespace tally::orchestrator
