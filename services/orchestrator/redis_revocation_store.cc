#include "services/orchestrator/redis_revocation_store.h"

#include "absl/strings/str_cat.h"

namespace tally::orchestrator {
namespace {

std::string Key(absl::string_view directory_id, absl::string_view session_id) {
  return absl::StrCat("{", directory_id, "}:revoked:", session_id);
}

}  // namespace

RedisRevocationStore::RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock)
    : redis_(std::move(redis)), clock_(clock) {}

absl::Status RedisRevocationStore::Revoke(absl::string_view directory_id,
                                          absl::string_view session_id, absl::Time until) {
  const int64_t ttl_ms = absl::ToInt64Milliseconds(until - clock_.Now());
  if (ttl_ms <= 0) return absl::OkStatus();  // already expired: nothing left to revoke
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"SET", Key(directory_id, session_id), "1", "PX", absl::StrCat(ttl_ms)});
  return reply.status();
}

absl::StatusOr<bool> RedisRevocationStore::IsRevoked(absl::string_view directory_id,
                                                     absl::string_view session_id) {
  absl::StatusOr<RedisReply> reply = redis_->Command({"EXISTS", Key(directory_id, session_id)});
  if (!reply.ok()) return reply.status();
  return reply->integer() > 0;
}

}  // namespace tally::orchestrator
