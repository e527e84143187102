#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tally::testing {

// The first AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer or ThreadSanitizer
// report in a process's output (from its first line, at most 16 KiB), or nullopt. Subprocess
// checks its child's output with it, so under `tools/dev test --sanitize` a finding in a service
// process fails the test that started the process.
std::optional<std::string> FindSanitizerReport(std::string_view output);

}  // namespace tally::testing
