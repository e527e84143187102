#include "tools/loadgen/redis_counters.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tally::loadgen {

absl::StatusOr<RedisCounters> ParseRedisInfo(absl::string_view info) {
  RedisCounters counters;
  bool saw_reads = false;
  for (absl::string_view line : absl::StrSplit(info, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "total_reads_processed:")) {
      if (!absl::SimpleAtoi(line, &counters.reads_processed)) {
        return absl::InvalidArgumentError("malformed total_reads_processed");
      }
      saw_reads = true;
    } else if (absl::ConsumePrefix(&line, "cmdstat_")) {
      // cmdstat_get:calls=1,usec=3,...
      const size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      const std::string name(line.substr(0, colon));
      absl::string_view rest = line.substr(colon + 1);
      if (!absl::ConsumePrefix(&rest, "calls=")) continue;
      int64_t calls = 0;
      if (!absl::SimpleAtoi(rest.substr(0, rest.find(',')), &calls)) {
        return absl::InvalidArgumentError("malformed cmdstat line");
      }
      counters.calls[name] = calls;
    }
  }
  if (!saw_reads) return absl::InvalidArgumentError("INFO has no total_reads_processed");
  return counters;
}

absl::StatusOr<RedisCounters> ReadRedisCounters(RedisClient& redis) {
  absl::StatusOr<std::vector<RedisReply>> replies = redis.CommandOnEveryPrimary({"INFO", "all"});
  if (!replies.ok()) return replies.status();
  RedisCounters sum;
  sum.nodes = 0;
  for (const RedisReply& reply : *replies) {
    absl::StatusOr<RedisCounters> node = ParseRedisInfo(reply.str());
    if (!node.ok()) return node.status();
    sum.reads_processed += node->reads_processed;
    for (const auto& [name, calls] : node->calls) sum.calls[name] += calls;
    ++sum.nodes;
  }
  return sum;
}

RedisCounters Delta(const RedisCounters& before, const RedisCounters& after) {
  RedisCounters delta;
  delta.nodes = after.nodes;
  delta.reads_processed = after.reads_processed - before.reads_processed - after.nodes;
  for (const auto& [name, calls] : after.calls) {
    auto it = before.calls.find(name);
    int64_t d = calls - (it == before.calls.end() ? 0 : it->second);
    if (name == "info") d -= after.nodes;
    if (d != 0) delta.calls[name] = d;
  }
  return delta;
}

}  // namespace tally::loadgen
