#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/util/random.h"

// Redis key layout (DESIGN.md §3): every per-directory key starts with the hash tag {dir}, so
// Redis Cluster keeps one directory's keys in one slot and a script may touch them together.
// Ids are checked with IsValidId ([A-Za-z0-9_-]), so they cannot forge a separator or a tag.
// Every key a script touches is named here and passed in its KEYS.
namespace tally::otp::keys {

// A challenge id is "otp_", the 32 hex digits of its slot, then a random nonce. The slot is a
// keyed digest of the user (or no-recipient key) and channel: the challenge lives under
// {dir}:otp:<slot>, so a resend overwrites the previous code of that user and channel in the
// one key the issue script is given, and VerifyCode finds the key from the id alone.
inline constexpr absl::string_view kChallengePrefix = "otp_";
inline constexpr size_t kSlotHexDigits = 32;

inline std::string NewChallengeId(RandomSource& random, absl::string_view slot) {
  return NewId(random, absl::StrCat(kChallengePrefix, slot));
}

// The slot of a challenge id this service made; nullopt for any other id (unknown: EXPIRED).
inline std::optional<std::string> ChallengeSlot(absl::string_view challenge_id) {
  if (!absl::StartsWith(challenge_id, kChallengePrefix) ||
      challenge_id.size() <= kChallengePrefix.size() + kSlotHexDigits) {
    return std::nullopt;
  }
  const absl::string_view slot = challenge_id.substr(kChallengePrefix.size(), kSlotHexDigits);
  for (char c : slot) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) {
      return std::nullopt;
    }
  }
  return std::string(slot);
}

// The key of a challenge (a hash: its id, MAC, attempts, channel, user, destination, expiry).
inline std::string Challenge(absl::string_view dir, absl::string_view slot) {
  return absl::StrCat("{", dir, "}:otp:", slot);
}

// Send times within a budget's window (sorted set). `budget` is the key segment of the budget
// (send_budgets.h), `tag` a keyed digest or a channel name: never a phone number, an address or
// an IP address.
inline std::string BudgetSends(absl::string_view dir, absl::string_view budget,
                               absl::string_view tag) {
  return absl::StrCat("{", dir, "}:rl:", budget, ":", tag);
}

// Sends of the directory on one UTC day.
inline std::string DirectoryDay(absl::string_view dir, absl::string_view day) {
  return absl::StrCat("{", dir, "}:rl:otp-day:", day);
}

// The delivery queue is sharded (issue 23): shard i of queue `queue` is the hash tag
// {<queue>-<i>} with its delivery stream and its dead letters, so the scripts of one shard touch
// one Redis Cluster slot, and the shards spread over the cluster.
inline std::string Deliveries(absl::string_view queue, int shard) {
  return absl::StrCat("{", queue, "-", shard, "}:deliveries");
}
inline std::string Dead(absl::string_view queue, int shard) {
  return absl::StrCat("{", queue, "-", shard, "}:dead");
}

// The shard of a directory's jobs: FNV-1a of the id, stable across processes and versions
// (any process may append, every sender reads every shard).
inline int ShardOf(absl::string_view directory_id, int shards) {
  uint32_t h = 2166136261u;
  for (unsigned char c : directory_id) {
    h ^= c;
    h *= 16777619u;
  }
  return shards <= 1 ? 0 : static_cast<int>(h % static_cast<uint32_t>(shards));
}

}  // namespace tally::otp::keys
