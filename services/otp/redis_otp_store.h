#pragma once

#include <memory>
#include <string>

#include "common/redis/redis_client.h"
#include "services/otp/otp_store.h"

namespace tally::otp {

// OtpStore on Redis: one Lua script per operation (atomic on the server).
//
// Issue's script also appends the delivery job to the stream, so a challenge exists exactly when
// its job is queued. That puts a global key (the stream) beside per-directory keys in one
// script: fine on a single Redis primary (with replicas / Sentinel), refused by Redis Cluster
// (CROSSSLOT). We choose the atomicity; sharding OTP over a Cluster would need per-slot streams.
class RedisOtpStore final : public OtpStore {
 public:
  RedisOtpStore(std::shared_ptr<RedisClient> redis, std::string stream);

  absl::StatusOr<IssueResult> Issue(const IssueParams& params) override;
  absl::StatusOr<VerifyOutcome> Verify(absl::string_view directory_id,
                                       absl::string_view challenge_id,
                                       absl::string_view code_mac_hex, absl::Time now) override;
  absl::Status Ping() override;

 private:
  std::shared_ptr<RedisClient> redis_;
  std::string stream_;
};

}  // namespace tally::otp
