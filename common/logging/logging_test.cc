#include "common/logging/logging.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"

namespace tally {
namespace {

std::string FormatJson(absl::string_view logger, absl::string_view payload) {
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()),
                               spdlog::level::warn,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t buf;
  MakeJsonFormatter()->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(LoggingTest, JsonLinesAreParseableAndEscaped) {
  const std::string line = FormatJson("policy", "name \"quoted\"\nnext line");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["logger"], "policy");
  EXPECT_EQ(parsed["msg"], "name \"quoted\"\nnext line");
  EXPECT_TRUE(parsed.contains("time"));
}

TEST(LoggingTest, InvalidUtf8DoesNotThrow) {
  const std::string line = FormatJson("x", "bad \xFF byte");
  EXPECT_NO_THROW(nlohmann::json::parse(line));
}

TEST(LoggingTest, RejectsUnknownFormatAndLevel) {
  EXPECT_EQ(InitLogging("xml", "info").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InitLogging("text", "loud").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(InitLogging("json", "off").ok());
  EXPECT_TRUE(InitLogging("text", "debug").ok());
}

TEST(LoggingTest, NamedLoggersAreSharedAndFollowLevel) {
  ASSERT_TRUE(InitLogging("text", "warn").ok());
  auto a = GetLogger("component-a");
  EXPECT_EQ(a, GetLogger("component-a"));
  EXPECT_EQ(a->name(), "component-a");
  EXPECT_EQ(a->level(), spdlog::level::warn);
  ASSERT_TRUE(InitLogging("text", "error").ok());
  EXPECT_EQ(a->level(), spdlog::level::err);
}

}  // namespace
}  // namespace tally
