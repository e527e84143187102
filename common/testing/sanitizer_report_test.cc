#include "common/testing/sanitizer_report.h"

#include <string>

#include "gtest/gtest.h"

namespace tally::testing {
namespace {

TEST(FindSanitizerReportTest, CleanOutputHasNone) {
  EXPECT_FALSE(FindSanitizerReport("").has_value());
  EXPECT_FALSE(FindSanitizerReport("[info] listening on 127.0.0.1:5000\nbye\n").has_value());
  // Not a finding: ASan's notes about the process.
  EXPECT_FALSE(FindSanitizerReport("==1==WARNING: ASan is ignoring requested "
                                   "__asan_handle_no_return\n")
                   .has_value());
}

TEST(FindSanitizerReportTest, FindsEachRuntimeFromTheReportsFirstLine) {
  const std::string reports[] = {
      "==42==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020",
      "==42==ERROR: LeakSanitizer: detected memory leaks",
      "common/util/text.cc:12:7: runtime error: signed integer overflow",
      "==42==ERROR: UndefinedBehaviorSanitizer: SEGV on unknown address",
      "WARNING: ThreadSanitizer: data race (pid=42)",
  };
  for (const std::string& report : reports) {
    const std::string output = "[info] started\n" + report + "\n    #0 0x1 in main\n";
    const auto found = FindSanitizerReport(output);
    ASSERT_TRUE(found.has_value()) << report;
    EXPECT_EQ(found->substr(0, report.size()), report);
    EXPECT_NE(found->find("#0 0x1 in main"), std::string::npos);
  }
}

TEST(FindSanitizerReportTest, LongReportsAreCut) {
  const std::string output = "WARNING: ThreadSanitizer: data race\n" + std::string(100000, 'x');
  EXPECT_EQ(FindSanitizerReport(output)->size(), 16u * 1024);
}

}  // namespace
}  // namespace tally::testing
