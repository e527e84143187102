#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/revocation.h"
#include "common/redis/redis_client.h"
#include "common/util/clock.h"

namespace tally {

// Revocations in Redis. A check is one MGET of the session's, the family's and the user's
// records (one round trip); a session revocation one script that sets the session's and the
// family's records with a TTL that ends when the family's tokens are refused as expired anyway;
// a user revocation one script that moves the user's mark (Unix milliseconds) forward only.
// Connection problems come back as UNAVAILABLE (RedisClient).
class RedisRevocationStore final : public RevocationStore {
 public:
  // `clock` (for the TTLs) must outlive the store.
  RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock);

  absl::StatusOr<bool> IsRevoked(const SessionClaims& claims) const override;
  absl::Status RevokeSession(const SessionClaims& claims) override;
  absl::Status RevokeUser(absl::string_view directory_id, absl::string_view user_id,
                          absl::Time at) override;

 private:
  std::shared_ptr<RedisClient> redis_;
  const Clock& clock_;
};

// For services that keep nothing else in Redis (policy, credential): a store on a small pool of
// its own for `redis` (its pool size is replaced). Never connects here: the first token check
// does, so the service starts while Redis is down.
std::shared_ptr<RedisRevocationStore> RevocationStoreFor(RedisOptions redis, const Clock& clock);

}  // namespace tally
