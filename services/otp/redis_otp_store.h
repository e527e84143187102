#pragma once

#include <memory>

#include "common/redis/redis_client.h"
#include "services/otp/otp_store.h"

namespace tally::otp {

// OtpStore on Redis: one Lua script per operation (atomic on the server). Every key a script
// touches carries the directory's hash tag and is passed in KEYS, so each runs in one Redis
// Cluster slot. The delivery job is not written here: the delivery streams are sharded by a
// tag of their own (DeliveryQueue::Enqueue appends it once Issue has written the challenge).
class RedisOtpStore final : public OtpStore {
 public:
  explicit RedisOtpStore(std::shared_ptr<RedisClient> redis);

  absl::StatusOr<IssueResult> Issue(const IssueParams& params) override;
  absl::StatusOr<VerifyOutcome> Verify(absl::string_view directory_id,
                                       absl::string_view challenge_id,
                                       absl::string_view code_mac_hex, absl::Time now) override;
  absl::Status Ping() override;

 private:
  std::shared_ptr<RedisClient> redis_;
};

}  // namespace tally::otp
