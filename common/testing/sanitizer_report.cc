#include "common/testing/sanitizer_report.h"

#include <algorithm>
#include <array>

namespace tally::testing {

std::optional<std::string> FindSanitizerReport(std::string_view output) {
  // What the runtimes print first: "==123==ERROR: AddressSanitizer: heap-use-after-free ...",
  // "WARNING: ThreadSanitizer: data race (pid=123)", "x.cc:7:3: runtime error: ...".
  static constexpr std::array<std::string_view, 6> kMarkers = {
      "ERROR: AddressSanitizer",         "ERROR: LeakSanitizer",
      "ERROR: UndefinedBehaviorSanitizer", ": runtime error: ",
      "WARNING: ThreadSanitizer",        "ERROR: ThreadSanitizer",
  };
  size_t first = std::string_view::npos;
  for (std::string_view marker : kMarkers) first = std::min(first, output.find(marker));
  if (first == std::string_view::npos) return std::nullopt;
  const size_t line = output.rfind('\n', first);
  const size_t start = line == std::string_view::npos ? 0 : line + 1;
  constexpr size_t kMaxReport = 16 * 1024;
  return std::string(output.substr(start, kMaxReport));
}

}  // namespace tally::testing
