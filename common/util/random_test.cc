#include "common/util/random.h"

#include <set>

#include "gtest/gtest.h"

namespace tally {
namespace {

class CountingRandom : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (auto& b : out) b = next_++;
  }

 private:
  uint8_t next_ = 0;
};

TEST(NewIdTest, HasPrefixAndFixedLength) {
  const std::string id = NewId(CsprngRandom::Get(), "dir_");
  EXPECT_EQ(id.rfind("dir_", 0), 0u);
  EXPECT_EQ(id.size(), 4u + 26u);
  for (char c : id.substr(4)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << c;
}

TEST(NewIdTest, DeterministicWithInjectedSource) {
  CountingRandom a, b;
  EXPECT_EQ(NewId(a, "x"), NewId(b, "x"));
  EXPECT_NE(NewId(a, "x"), NewId(b, "y"));
}

TEST(NewIdTest, CsprngIdsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(NewId(CsprngRandom::Get(), "")).second);
}

}  // namespace
}  // namespace tally
