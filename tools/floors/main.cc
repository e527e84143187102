// tally-floors: the machine's floors (Argon2id verify, bare gRPC echo, Redis round trip) on their
// own; the load generator measures the same in its run. Wiring only: flags in, JSON out (the
// fields of floors::Floors, as in the load generator's result).
//   build/bin/tally-floors [--redis_url=redis://127.0.0.1:6379] [--duration=3s]

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "tools/floors/floors.h"

// The Argon2id flags have the credential service's names, so TALLY_ARGON2_* set both alike.
ABSL_FLAG(uint32_t, argon2_memory_kib, 19456, "Argon2id memory per hash in KiB (m).");
ABSL_FLAG(uint32_t, argon2_iterations, 2, "Argon2id passes over the memory (t).");
ABSL_FLAG(uint32_t, argon2_parallelism, 1, "Argon2id lanes (p).");
ABSL_FLAG(int, threads, 0, "Threads of the parallel Argon2id floor; 0: one per available CPU.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(3), "How long each measurement runs.");
ABSL_FLAG(std::string, redis_url, "", "Redis to measure the round trip to; empty: skip it.");
ABSL_FLAG(int, min_samples, 2000, "Latency measurements make at least this many calls.");

int main(int argc, char** argv) {
  tally::ParseFlags(argc, argv,
                    "tally-floors: Argon2id verify, gRPC echo and Redis round trip on this "
                    "machine");
  tally::floors::FloorOptions options;
  options.argon2_memory_kib = absl::GetFlag(FLAGS_argon2_memory_kib);
  options.argon2_iterations = absl::GetFlag(FLAGS_argon2_iterations);
  options.argon2_parallelism = absl::GetFlag(FLAGS_argon2_parallelism);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.redis_url = absl::GetFlag(FLAGS_redis_url);
  options.min_samples = absl::GetFlag(FLAGS_min_samples);

  absl::StatusOr<tally::floors::Floors> floors = tally::floors::MeasureFloors(options);
  if (!floors.ok()) {
    if (floors.status().code() == absl::StatusCode::kInvalidArgument) {
      tally::ExitBadConfig(argv[0], floors.status());
    }
    std::cerr << "tally-floors: " << floors.status().message() << std::endl;
    return 1;
  }
  std::cout << nlohmann::json(*floors).dump(2) << std::endl;
  return 0;
}
