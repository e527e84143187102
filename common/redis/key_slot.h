#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// Redis Cluster's key → hash slot mapping (https://redis.io/docs/reference/cluster-spec/),
// and where a command's keys are, so a cluster client can route every command by its keys.
namespace tally {

inline constexpr int kClusterSlots = 16384;
// What SlotOfKeys answers for a command without keys: any node may serve it.
inline constexpr int kAnySlot = -1;

// CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection), the checksum Redis Cluster
// hashes keys with.
uint16_t Crc16(absl::string_view data);

// The part of `key` that is hashed: the text between the first '{' and the first '}' after it
// when that is not empty ("{dir_1}:login:x" → "dir_1"), else the whole key.
absl::string_view HashTag(absl::string_view key);

// CRC16(HashTag(key)) mod 16384, as CLUSTER KEYSLOT answers.
int KeySlot(absl::string_view key);

// The keys of a command (args[0] is its name, any case), where Redis Cluster looks for them:
// none for keyless commands (PING, INFO, SCAN, CLUSTER, SCRIPT, WAIT...), every argument for
// DEL/EXISTS/MGET/..., every other one for MSET, the `numkeys` keys of EVAL/EVALSHA/FCALL, the
// streams after STREAMS of XREAD/XREADGROUP, the argument after the subcommand of
// XGROUP/XINFO/OBJECT/MEMORY, and otherwise args[1]. Views into `args`.
std::vector<absl::string_view> CommandKeys(absl::Span<const std::string> args);

// The one slot all of `keys` hash to, or kAnySlot without keys. Keys in different slots are
// INTERNAL (a Redis Cluster would refuse them with CROSSSLOT; the keys of one command must
// share a {hash tag}); the message names the slots, never the keys.
absl::StatusOr<int> SlotOfKeys(absl::Span<const absl::string_view> keys);

}  // namespace tally
