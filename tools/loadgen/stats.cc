#include "tools/loadgen/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tally::loadgen {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p% of the samples at or below it.
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

void LatencySamples::Merge(const LatencySamples& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

LatencySummary LatencySamples::Summarize() const {
  LatencySummary s;
  if (samples_.empty()) return s;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  s.count = static_cast<int64_t>(sorted.size());
  s.mean_us = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.count);
  s.p50_us = Percentile(sorted, 50);
  s.p95_us = Percentile(sorted, 95);
  s.p99_us = Percentile(sorted, 99);
  s.max_us = sorted.back();
  return s;
}

void RunRecorder::Merge(const RunRecorder& other) {
  login.Merge(other.login);
  for (const auto& [name, samples] : other.steps) steps[name].Merge(samples);
  for (const auto& [name, n] : other.errors) errors[name] += n;
  refused.Merge(other.refused);
  succeeded += other.succeeded;
  failed += other.failed;
}

}  // namespace tally::loadgen
