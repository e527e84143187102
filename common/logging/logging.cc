#include "common/logging/logging.h"

#include <mutex>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, log_format, "text", "Log line format: text or json.");
ABSL_FLAG(std::string, log_level, "info",
          "Minimum level logged: trace, debug, info, warn, error, critical or off.");

namespace tally {
namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json line;
    line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(msg.time),
                                    absl::UTCTimeZone());
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    // Replace, never throw, on invalid UTF-8 coming from a caller's input.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

struct LoggingState {
  std::mutex mu;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::info;
};

LoggingState& State() {
  static LoggingState* state = new LoggingState();
  return *state;
}

}  // namespace

std::unique_ptr<spdlog::formatter> MakeJsonFormatter() { return std::make_unique<JsonFormatter>(); }

absl::Status InitLogging(absl::string_view format, absl::string_view level) {
  LoggingState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  if (format == "json") {
    state.sink->set_formatter(MakeJsonFormatter());
  } else if (format == "text") {
    state.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v", spdlog::pattern_time_type::utc));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format must be text or json, not \"", format, "\""));
  }
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log_level must be trace, debug, info, warn, error, critical or off, not \"", level,
        "\""));
  }
  state.level = parsed;
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> logger) { logger->set_level(parsed); });
  return absl::OkStatus();
}

absl::Status InitLoggingFromFlags() {
  return InitLogging(absl::GetFlag(FLAGS_log_format), absl::GetFlag(FLAGS_log_level));
}

std::shared_ptr<spdlog::logger> GetLogger(absl::string_view component) {
  LoggingState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  const std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, state.sink);
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace tally
