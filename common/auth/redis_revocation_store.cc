#include "common/auth/redis_revocation_store.h"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tally {
namespace {

// Token checks are one short MGET each; a few connections serve many concurrent calls.
constexpr int kStorePoolSize = 8;

// KEYS[1] the session's record, KEYS[2] the family's; ARGV[1] the TTL in milliseconds. Both or
// neither, in one step (same slot: the directory's hash tag).
const RedisScript& RevokeSessionScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1
)lua");
  return *kScript;
}

// KEYS[1] the user's record; ARGV[1] the revocation time (Unix ms), ARGV[2] its TTL (ms). The
// mark only moves forward: a slower writer with an earlier time must not bring tokens back.
const RedisScript& RevokeUserScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua");
  return *kScript;
}

}  // namespace

RedisRevocationStore::RedisRevocationStore(std::shared_ptr<RedisClient> redis, const Clock& clock)
    : redis_(std::move(redis)), clock_(clock) {}

absl::StatusOr<bool> RedisRevocationStore::IsRevoked(const SessionClaims& claims) const {
  const std::string& dir = claims.directory_id;
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"MGET", RevokedSessionKey(dir, claims.session_id),
                       RevokedFamilyKey(dir, claims.Family()), UserRevokedKey(dir, claims.subject)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 3) {
    return absl::InternalError("unexpected reply to MGET");
  }
  const std::vector<RedisReply>& records = reply->elements();
  if (!records[0].IsNil() || !records[1].IsNil()) return true;
  if (records[2].IsNil()) return false;
  int64_t revoked_at_ms = 0;
  if (!records[2].IsString() || !absl::SimpleAtoi(records[2].str(), &revoked_at_ms)) {
    // Unreadable means "cannot tell": fail closed.
    return absl::InternalError("unreadable user revocation record");
  }
  return EndedByUserMark(claims, absl::FromUnixMillis(revoked_at_ms));
}

absl::Status RedisRevocationStore::RevokeSession(const SessionClaims& claims) {
  const int64_t ttl_ms = absl::ToInt64Milliseconds(SessionRecordsExpiry(claims) - clock_.Now());
  if (ttl_ms <= 0) return absl::OkStatus();  // refused as expired already: nothing to revoke
  const std::string& dir = claims.directory_id;
  // A revocation a failover undid would let the token in again: it waits for a replica.
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      RevokeSessionScript(),
      {RevokedSessionKey(dir, claims.session_id), RevokedFamilyKey(dir, claims.Family())},
      {absl::StrCat(ttl_ms)}, RedisDurability::kReplicated);
  return reply.status();
}

absl::Status RedisRevocationStore::RevokeUser(absl::string_view directory_id,
                                              absl::string_view user_id, absl::Time at) {
  if (directory_id.empty() || user_id.empty()) {
    return absl::InvalidArgumentError("a user revocation needs the directory and the user");
  }
  const int64_t ttl_ms = absl::ToInt64Milliseconds(UserMarkExpiry(at) - clock_.Now());
  if (ttl_ms <= 0) return absl::OkStatus();  // every token issued by then has expired
  // Replicated like a session's revocation (also when the script kept a later mark: that one
  // may not have reached a replica yet).
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(RevokeUserScript(), {UserRevokedKey(directory_id, user_id)},
                   {absl::StrCat(absl::ToUnixMillis(at)), absl::StrCat(ttl_ms)},
                   RedisDurability::kReplicated);
  return reply.status();
}

std::shared_ptr<RedisRevocationStore> RevocationStoreFor(RedisOptions redis, const Clock& clock) {
  redis.pool_size = kStorePoolSize;
  return std::make_shared<RedisRevocationStore>(std::make_shared<RedisClient>(std::move(redis)),
                                                clock);
}

}  // namespace tally
