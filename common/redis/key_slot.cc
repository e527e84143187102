#include "common/redis/key_slot.h"

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally {
namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

// How a command names its keys.
enum class KeySpec {
  kFirst,            // args[1]: every command missing from the table below
  kNone,             // keyless
  kAll,              // every argument
  kFirstTwo,         // source and destination
  kEveryOther,       // key value key value ...
  kNumKeys,          // name script numkeys key... arg...
  kStreams,          // ... STREAMS key... id...
  kAfterSubcommand,  // name subcommand key ...
};

KeySpec SpecOf(absl::string_view name) {
  static const auto* const kSpecs = [] {
    auto* specs = new absl::flat_hash_map<std::string, KeySpec>();
    for (const char* n :
         {"PING", "ECHO", "INFO", "SCAN", "KEYS", "RANDOMKEY", "DBSIZE", "TIME", "CLUSTER",
          "CLIENT", "CONFIG", "COMMAND", "SCRIPT", "FUNCTION", "FLUSHALL", "FLUSHDB", "WAIT",
          "SLOWLOG", "LATENCY", "ROLE", "READONLY", "READWRITE", "ASKING", "AUTH", "HELLO",
          "SELECT", "QUIT", "RESET", "LASTSAVE", "SAVE", "BGSAVE", "BGREWRITEAOF", "DEBUG",
          "PUBLISH", "ACL", "MODULE", "SWAPDB", "FAILOVER", "REPLICAOF", "SLAVEOF", "MULTI",
          "EXEC", "DISCARD", "UNWATCH"}) {
      specs->emplace(n, KeySpec::kNone);
    }
    for (const char* n : {"DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "SINTER",
                          "SUNION", "SDIFF", "PFCOUNT", "PFMERGE", "SINTERSTORE", "SUNIONSTORE",
                          "SDIFFSTORE"}) {
      specs->emplace(n, KeySpec::kAll);
    }
    for (const char* n : {"RENAME", "RENAMENX", "SMOVE", "LMOVE", "RPOPLPUSH", "COPY"}) {
      specs->emplace(n, KeySpec::kFirstTwo);
    }
    for (const char* n : {"MSET", "MSETNX"}) specs->emplace(n, KeySpec::kEveryOther);
    for (const char* n : {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"}) {
      specs->emplace(n, KeySpec::kNumKeys);
    }
    for (const char* n : {"XREAD", "XREADGROUP"}) specs->emplace(n, KeySpec::kStreams);
    for (const char* n : {"XGROUP", "XINFO", "OBJECT", "MEMORY"}) {
      specs->emplace(n, KeySpec::kAfterSubcommand);
    }
    return specs;
  }();
  const auto it = kSpecs->find(absl::AsciiStrToUpper(name));
  return it == kSpecs->end() ? KeySpec::kFirst : it->second;
}

}  // namespace

uint16_t Crc16(absl::string_view data) {
  uint16_t crc = 0;
  for (const char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16Table[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xff]);
  }
  return crc;
}

absl::string_view HashTag(absl::string_view key) {
  const size_t open = key.find('{');
  if (open == absl::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == absl::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int KeySlot(absl::string_view key) { return Crc16(HashTag(key)) & (kClusterSlots - 1); }

std::vector<absl::string_view> CommandKeys(absl::Span<const std::string> args) {
  std::vector<absl::string_view> keys;
  if (args.size() < 2) return keys;
  switch (SpecOf(args[0])) {
    case KeySpec::kFirst:
      keys.push_back(args[1]);
      break;
    case KeySpec::kNone:
      break;
    case KeySpec::kAll:
      for (size_t i = 1; i < args.size(); ++i) keys.push_back(args[i]);
      break;
    case KeySpec::kFirstTwo:
      for (size_t i = 1; i < args.size() && i <= 2; ++i) keys.push_back(args[i]);
      break;
    case KeySpec::kEveryOther:
      for (size_t i = 1; i < args.size(); i += 2) keys.push_back(args[i]);
      break;
    case KeySpec::kNumKeys: {
      size_t n = 0;
      if (args.size() >= 3 && absl::SimpleAtoi(args[2], &n)) {
        for (size_t i = 3; i < args.size() && i < 3 + n; ++i) keys.push_back(args[i]);
      }
      break;
    }
    case KeySpec::kStreams:
      for (size_t i = 1; i < args.size(); ++i) {
        if (!absl::EqualsIgnoreCase(args[i], "STREAMS")) continue;
        const size_t rest = args.size() - i - 1;
        for (size_t k = 0; k < rest / 2; ++k) keys.push_back(args[i + 1 + k]);
        break;
      }
      break;
    case KeySpec::kAfterSubcommand:
      if (args.size() >= 3) keys.push_back(args[2]);
      break;
  }
  return keys;
}

absl::StatusOr<int> SlotOfKeys(absl::Span<const absl::string_view> keys) {
  std::vector<int> slots;  // distinct, in order of appearance
  for (const absl::string_view key : keys) {
    const int slot = KeySlot(key);
    if (std::find(slots.begin(), slots.end(), slot) == slots.end()) slots.push_back(slot);
  }
  if (slots.empty()) return kAnySlot;
  if (slots.size() > 1) {
    return absl::InternalError(absl::StrCat(
        "redis: the keys of one command span ", slots.size(), " hash slots (",
        absl::StrJoin(slots, ", "),
        "), which a Redis Cluster refuses (CROSSSLOT); give them one {hash tag}"));
  }
  return slots[0];
}

}  // namespace tally
