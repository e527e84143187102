#pragma once

#include <memory>

#include "common/redis/redis_client.h"
#include "services/passkey/passkey_store.h"

namespace tally::passkey {

// Challenges under `{<directory>}:wa:<id>` (the hash tag keeps a directory's keys on one Redis
// Cluster shard), consumed with GETDEL so two parallel finishes cannot both get one.
class RedisChallengeStore final : public ChallengeStore {
 public:
  // `prefix` is prepended to every key (tests use it to stay apart); empty in production.
  RedisChallengeStore(std::shared_ptr<RedisClient> redis, std::string prefix = "");

  absl::Status Put(absl::string_view challenge_id, const PendingCeremony& ceremony,
                   absl::Duration ttl) override;
  absl::StatusOr<PendingCeremony> Take(absl::string_view directory_id,
                                       absl::string_view challenge_id) override;
  absl::Status Ping() override;

  std::string Key(absl::string_view directory_id, absl::string_view challenge_id) const;

 private:
  std::shared_ptr<RedisClient> redis_;
  std::string prefix_;
};

}  // namespace tally::passkey
