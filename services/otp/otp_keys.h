#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// Redis key layout (DESIGN.md §3): every per-directory key starts with the hash tag {dir}, so
// Redis Cluster keeps one directory's keys in one slot and a script may touch them together.
// Ids are checked with IsValidId ([A-Za-z0-9_-]), so they cannot forge a separator or a tag.
namespace tally::otp::keys {

inline std::string ChallengePrefix(absl::string_view dir) { return absl::StrCat("{", dir, "}:otp:"); }
inline std::string Challenge(absl::string_view dir, absl::string_view challenge_id) {
  return absl::StrCat(ChallengePrefix(dir), challenge_id);
}
// The current challenge of one user and channel: a resend replaces what it names.
inline std::string Current(absl::string_view dir, absl::string_view user, int channel) {
  return absl::StrCat("{", dir, "}:otp-current:", user, ":", channel);
}
// The current challenge sent to nobody under one throttle tag (the tag names the channel too).
inline std::string NoRecipientCurrent(absl::string_view dir, absl::string_view tag) {
  return absl::StrCat("{", dir, "}:otp-current-nobody:", tag);
}
// Send times to one destination (sorted set, last hour): cooldown and hourly cap.
inline std::string DestinationSends(absl::string_view dir, absl::string_view destination_tag) {
  return absl::StrCat("{", dir, "}:rl:otp-dest:", destination_tag);
}
// Sends of the directory on one UTC day.
inline std::string DirectoryDay(absl::string_view dir, absl::string_view day) {
  return absl::StrCat("{", dir, "}:rl:otp-day:", day);
}

}  // namespace tally::otp::keys
