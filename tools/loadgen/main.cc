// tally-loadgen: the load generator of issue #8. Wiring only: flags in, tools/loadgen/loadgen.h
// does the work, the result goes out as JSON (tools/loadgen/result.h); tools/loadgen/
// bench_report.py checks it against the targets and renders it.

#include <fstream>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/logging/logging.h"
#include "tools/loadgen/loadgen.h"
#include "tools/loadgen/loadgen_config.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex (which gRPC locks on every call)
  // checks for deadlock cycles by default, at several times the cost of the lock itself; the
  // load generator shares the machine with what it measures.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  tally::ParseFlags(argc, argv,
                    "tally-loadgen: load generator for a running Tally cluster (issue #8)");
  if (absl::Status s = tally::InitLoggingFromFlags(); !s.ok()) tally::ExitBadConfig(argv[0], s);
  absl::StatusOr<tally::loadgen::LoadgenConfig> config = tally::loadgen::LoadgenConfigFromFlags();
  if (!config.ok()) tally::ExitBadConfig(argv[0], config.status());

  absl::StatusOr<tally::loadgen::LoadgenResult> result = tally::loadgen::RunLoadgen(config->run);
  if (!result.ok()) {
    std::cerr << "tally-loadgen: " << absl::StatusCodeToString(result.status().code()) << ": "
              << result.status().message() << std::endl;
    return 1;
  }
  const std::string json = nlohmann::json(*result).dump(2) + "\n";
  const std::string& output = config->output;
  if (output.empty()) {
    std::cout << json << std::flush;
    return 0;
  }
  std::ofstream file(output);
  file << json;
  file.close();
  if (!file) {
    std::cerr << "tally-loadgen: cannot write " << output << std::endl;
    return 1;
  }
  return 0;
}
