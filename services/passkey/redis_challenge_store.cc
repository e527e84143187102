#include "services/passkey/redis_challenge_store.h"

#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"

namespace tally::passkey {

using json = nlohmann::json;

RedisChallengeStore::RedisChallengeStore(std::shared_ptr<RedisClient> redis, std::string prefix)
    : redis_(std::move(redis)), prefix_(std::move(prefix)) {}

std::string RedisChallengeStore::Key(absl::string_view directory_id,
                                     absl::string_view challenge_id) const {
  return absl::StrCat(prefix_, "{", directory_id, "}:wa:", challenge_id);
}

absl::Status RedisChallengeStore::Put(absl::string_view challenge_id,
                                      const PendingCeremony& c, absl::Duration ttl) {
  json value = {
      {"kind", c.kind == PendingCeremony::Kind::kRegistration ? "registration" : "authentication"},
      {"dir", c.directory_id},
      {"user", c.user_id},
      {"challenge", Base64UrlEncode(c.challenge)},
      {"handle", Base64UrlEncode(c.user_handle)},
  };
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"SET", Key(c.directory_id, challenge_id), value.dump(), "PX",
                       absl::StrCat(absl::ToInt64Milliseconds(ttl)), "NX"});
  if (!reply.ok()) return reply.status();
  if (reply->IsNil()) return absl::AlreadyExistsError("challenge id collision");
  return absl::OkStatus();
}

absl::StatusOr<PendingCeremony> RedisChallengeStore::Take(absl::string_view directory_id,
                                                          absl::string_view challenge_id) {
  // Consumed for good: a failover that brought it back would let it answer a second finish.
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"GETDEL", Key(directory_id, challenge_id)}, RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  if (reply->IsNil()) return absl::NotFoundError("unknown, used or expired challenge");
  json value = json::parse(reply->str(), nullptr, /*allow_exceptions=*/false);
  PendingCeremony c;
  if (!value.is_object() || !value.contains("kind") || !value["kind"].is_string() ||
      !value.contains("challenge") || !value["challenge"].is_string()) {
    return absl::InternalError("unreadable challenge record");
  }
  c.kind = value["kind"] == "registration" ? PendingCeremony::Kind::kRegistration
                                           : PendingCeremony::Kind::kAuthentication;
  c.directory_id = value.value("dir", "");
  c.user_id = value.value("user", "");
  if (!Base64UrlDecode(value["challenge"].get<std::string>(), &c.challenge) ||
      !Base64UrlDecode(value.value("handle", ""), &c.user_handle)) {
    return absl::InternalError("unreadable challenge record");
  }
  return c;
}

absl::Status RedisChallengeStore::Ping() { return redis_->Ping(); }

}  // namespace tally::passkey
