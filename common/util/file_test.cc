#include "common/util/file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ReadFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = absl::StrCat(::testing::TempDir(), "/read_file_test_", ::getpid(),
                                          "_", name);
    std::ofstream(path, std::ios::binary) << content;
    written_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& path : written_) std::remove(path.c_str());
  }

 private:
  std::vector<std::string> written_;
};

TEST_F(ReadFileTest, ReturnsEveryByte) {
  std::string binary("a\0b\r\n\xFF", 6);
  EXPECT_EQ(*ReadFile(Write("small", binary)), binary);
  EXPECT_EQ(*ReadFile(Write("empty", "")), "");
  std::string large;
  for (int i = 0; i < 100000; ++i) large += static_cast<char>(i * 7);
  EXPECT_EQ(*ReadFile(Write("large", large)), large);
}

TEST_F(ReadFileTest, ReadsFilesWithoutASize) {
  // /proc files report size 0 but have content.
  absl::StatusOr<std::string> status = ReadFile("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, HasSubstr("Pid:"));
}

TEST_F(ReadFileTest, NamesThePathAndTheReason) {
  const std::string missing = absl::StrCat(::testing::TempDir(), "/no_such_file_", ::getpid());
  absl::StatusOr<std::string> read = ReadFile(missing);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(read.status().message(),
            absl::StrCat("cannot read ", missing, ": No such file or directory"));
  EXPECT_THAT(std::string(ReadFile(::testing::TempDir()).status().message()),
              StartsWith(absl::StrCat("cannot read ", ::testing::TempDir(), ": ")));
}

}  // namespace
}  // namespace tally
