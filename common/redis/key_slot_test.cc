#include "common/redis/key_slot.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(Crc16Test, XmodemCheckValue) {
  // The check value of CRC-16/XMODEM, also in Redis's crc16.c.
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

TEST(KeySlotTest, AnswersOfRedisClusterKeyslot) {
  // Each answered by `CLUSTER KEYSLOT <key>` on Redis 7.0 (the integration test asks a live
  // cluster for many more).
  const std::vector<std::pair<std::string, int>> vectors = {
      {"foo", 12182},
      {"bar", 5061},
      {"hello", 866},
      {"123456789", 12739},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363},      // an empty tag does not count: the whole key
      {"foo{{bar}}zap", 4015},   // the tag is "{bar"
      {"foo{bar}{zap}", 5061},   // the first tag only: "bar"
      {"{}", 15257},
      {"", 0},
      {"{dir_abc}:login:lgn_1", 32},
      {"dir_abc", 32},
      {"a{b", 13340},            // no closing brace: the whole key
      {"}{x}", 16287},           // a '}' before the first '{' does not close anything
      {"{{}}", 4092},            // the tag is "{"
  };
  for (const auto& [key, slot] : vectors) EXPECT_EQ(KeySlot(key), slot) << key;
}

TEST(KeySlotTest, HashTag) {
  EXPECT_EQ(HashTag("{dir_1}:otp:x"), "dir_1");
  EXPECT_EQ(HashTag("plain"), "plain");
  EXPECT_EQ(HashTag("x{}y{z}"), "x{}y{z}");
  EXPECT_EQ(HashTag("x{y"), "x{y");
  EXPECT_EQ(HashTag(std::string("{a\0b}", 5)), std::string("a\0b", 3));
}

std::vector<std::string> Keys(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (absl::string_view key : CommandKeys(args)) out.emplace_back(key);
  return out;
}

TEST(CommandKeysTest, WhereEachCommandHasItsKeys) {
  EXPECT_THAT(Keys({"GET", "k"}), ElementsAre("k"));
  EXPECT_THAT(Keys({"set", "k", "v", "PX", "10"}), ElementsAre("k"));
  EXPECT_THAT(Keys({"HGETALL", "{d}:login:1"}), ElementsAre("{d}:login:1"));
  EXPECT_THAT(Keys({"DEL", "a", "b", "c"}), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Keys({"MSET", "a", "1", "b", "2"}), ElementsAre("a", "b"));
  EXPECT_THAT(Keys({"RENAME", "a", "b"}), ElementsAre("a", "b"));
  EXPECT_THAT(Keys({"EVALSHA", "sha", "2", "k1", "k2", "arg"}), ElementsAre("k1", "k2"));
  EXPECT_THAT(Keys({"EVAL", "return 1", "0", "arg"}), IsEmpty());
  EXPECT_THAT(Keys({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "BLOCK", "5", "STREAMS", "s1",
                    "s2", ">", ">"}),
              ElementsAre("s1", "s2"));
  EXPECT_THAT(Keys({"XREAD", "STREAMS", "s", "0"}), ElementsAre("s"));
  EXPECT_THAT(Keys({"XGROUP", "CREATE", "stream", "g", "0", "MKSTREAM"}), ElementsAre("stream"));
  EXPECT_THAT(Keys({"XINFO", "GROUPS", "stream"}), ElementsAre("stream"));
  EXPECT_THAT(Keys({"XAUTOCLAIM", "stream", "g", "c", "0", "0"}), ElementsAre("stream"));
  for (const char* keyless : {"PING", "INFO", "SCAN", "CLUSTER", "SCRIPT", "WAIT", "FLUSHALL"}) {
    EXPECT_THAT(Keys({keyless, "x", "y"}), IsEmpty()) << keyless;
  }
  EXPECT_THAT(Keys({"PING"}), IsEmpty());
}

TEST(SlotOfKeysTest, OneSlotOrRefused) {
  EXPECT_EQ(*SlotOfKeys({}), kAnySlot);
  EXPECT_EQ(*SlotOfKeys({"{dir_abc}:login:x", "{dir_abc}:rl:lock:y"}), 32);
  const absl::StatusOr<int> crossed = SlotOfKeys({"{dir_abc}:otp:secret", "otp:deliveries"});
  ASSERT_EQ(crossed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(crossed.status().message(), HasSubstr("span 2 hash slots"));
  EXPECT_THAT(crossed.status().message(), HasSubstr("CROSSSLOT"));
  EXPECT_THAT(crossed.status().message(), Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace tally
