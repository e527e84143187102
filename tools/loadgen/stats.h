#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace tally::loadgen {

// Latency summary of one step (or of whole logins), in microseconds.
struct LatencySummary {
  int64_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p95_us = 0;
  double p99_us = 0;
  double max_us = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LatencySummary, count, mean_us, p50_us, p95_us, p99_us, max_us)

// The p-th percentile (0..100) of sorted samples, nearest-rank; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

// Every sample is kept: a bench run records at most a few hundred thousand, and exact
// percentiles are worth more than a histogram's buckets here.
class LatencySamples {
 public:
  void Add(double micros) { samples_.push_back(micros); }
  void Merge(const LatencySamples& other);
  LatencySummary Summarize() const;
  size_t size() const { return samples_.size(); }

 private:
  std::vector<double> samples_;
};


// What the workers of one run measured; merged across threads at the end.
struct RunRecorder {
  LatencySamples login;                          // whole logins that succeeded
  std::map<std::string, LatencySamples> steps;   // by step name, calls that returned OK
  std::map<std::string, int64_t> errors;         // by gRPC status code name or outcome
  // Logins that came back RESOURCE_EXHAUSTED: how long until the refusal arrived.
  LatencySamples refused;
  int64_t succeeded = 0;
  int64_t failed = 0;

  void Merge(const RunRecorder& other);
};

}  // namespace tally::loadgen
