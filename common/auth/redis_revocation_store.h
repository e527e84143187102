#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/revocation.h"
#include "common/redis/redis_client.h"
#include "common/util/clock.h"

namespace tally {

// `{dir}:revoked:<sid>`: the hash tag is the directory, like every key of a directory.
std::string RevokedSessionKey(absl::string_view directory_id, absl::string_view session_id);

// Revocations in Redis: SET with a TTL that ends when the token would have expired anyway, and
// one EXISTS per check. Connection problems come back as UNAVAILABLE (RedisClient).
class RedisRevocationStore final : public RevocationStore {
 public:
  // `clock` (for the TTL of Revoke) must outlive the store.
  RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock);

  absl::Status Revoke(absl::string_view directory_id, absl::string_view session_id,
                      absl::Time until) override;
  absl::StatusOr<bool> IsRevoked(absl::string_view directory_id,
                                 absl::string_view session_id) const override;

 private:
  std::shared_ptr<RedisClient> redis_;
  const Clock& clock_;
};

// For services that keep nothing else in Redis (policy, credential): a checker on a small pool
// of its own for `redis` (its pool size is replaced), or nullptr without one (revocation not
// enforced). Never connects here: the first token check does, so the service starts while Redis
// is down.
std::shared_ptr<const RevocationChecker> RevocationCheckerFor(std::optional<RedisOptions> redis,
                                                             const Clock& clock);

// The same for `redis_url` (redis://..., as ParseRedisUrl takes it; empty: none).
// INVALID_ARGUMENT for a malformed URL.
absl::StatusOr<std::shared_ptr<const RevocationChecker>> RevocationCheckerFromUrl(
    absl::string_view redis_url, absl::string_view client_name, const Clock& clock);

}  // namespace tally
