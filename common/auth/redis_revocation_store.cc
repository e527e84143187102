#include "common/auth/redis_revocation_store.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

// Token checks are one short EXISTS each; a few connections serve many concurrent calls.
constexpr int kCheckerPoolSize = 8;

}  // namespace

std::string RevokedSessionKey(absl::string_view directory_id, absl::string_view session_id) {
  return absl::StrCat("{", directory_id, "}:revoked:", session_id);
}

RedisRevocationStore::RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock)
    : redis_(std::move(redis)), clock_(clock) {}

absl::Status RedisRevocationStore::Revoke(absl::string_view directory_id,
                                          absl::string_view session_id, absl::Time until) {
  const int64_t ttl_ms = absl::ToInt64Milliseconds(until - clock_.Now());
  if (ttl_ms <= 0) return absl::OkStatus();  // already expired: nothing left to revoke
  absl::StatusOr<RedisReply> reply = redis_->Command(
      {"SET", RevokedSessionKey(directory_id, session_id), "1", "PX", absl::StrCat(ttl_ms)});
  return reply.status();
}

absl::StatusOr<bool> RedisRevocationStore::IsRevoked(absl::string_view directory_id,
                                                     absl::string_view session_id) const {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"EXISTS", RevokedSessionKey(directory_id, session_id)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsInteger()) return absl::InternalError("unexpected reply to EXISTS");
  return reply->integer() > 0;
}

std::shared_ptr<const RevocationChecker> RevocationCheckerFor(std::optional<RedisOptions> redis,
                                                             const Clock& clock) {
  if (!redis.has_value()) return nullptr;
  redis->pool_size = kCheckerPoolSize;
  return std::make_shared<const RedisRevocationStore>(
      std::make_shared<RedisClient>(*std::move(redis)), clock);
}

absl::StatusOr<std::shared_ptr<const RevocationChecker>> RevocationCheckerFromUrl(
    absl::string_view redis_url, absl::string_view client_name, const Clock& clock) {
  if (redis_url.empty()) return std::shared_ptr<const RevocationChecker>();
  absl::StatusOr<RedisOptions> options =
      ParseRedisUrl(std::string_view(redis_url.data(), redis_url.size()));
  if (!options.ok()) return options.status();
  options->client_name = std::string(client_name);
  return RevocationCheckerFor(*std::move(options), clock);
}

}  // namespace tally
