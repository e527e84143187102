#pragma once

#include <memory>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "spdlog/fmt/fmt.h"
#include "spdlog/logger.h"

namespace tally {

enum class LogFormat { kText, kJson };

// Configures every logger of the process: one stderr sink, `format` text or JSON lines, and the
// level ("trace", "debug", "info", "warn", "error", "critical", "off").
absl::Status InitLogging(absl::string_view format, absl::string_view level);

// Same, from the --log_format and --log_level flags (TALLY_LOG_FORMAT / TALLY_LOG_LEVEL).
absl::Status InitLoggingFromFlags();

// The named logger of one component ("policy", "redis", "server"), created on first use and
// sharing the process sink. Never pass secrets to it.
std::shared_ptr<spdlog::logger> GetLogger(absl::string_view component);

// The formatter behind --log_format=json: one object per line with time, level, logger and msg.
std::unique_ptr<spdlog::formatter> MakeJsonFormatter();

}  // namespace tally

// Debian's Abseil has its own string_view type, which fmt does not know.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

// "UNAVAILABLE: postgres unavailable"; status messages never carry secrets.
template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(const absl::Status& s, FormatContext& ctx) const {
    const std::string text = s.ToString();
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text), ctx);
  }
};
