#include "services/otp/redis_delivery_queue.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/otp/otp_keys.h"

namespace tally::otp {
namespace {

// KEYS: stream. ARGV: group, consumer, id. The delivery count if `consumer` owns the entry,
// after resetting its idle time (XCLAIM ... JUSTID does not count a delivery); else 0.
const RedisScript& TouchScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return p[1][4]
)lua");
  return *kScript;
}

// KEYS: stream. ARGV: group, id.
const RedisScript& AckScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return n
)lua");
  return *kScript;
}

// KEYS: stream, dead stream. ARGV: group, id, dead max length, then the letter's fields.
// Only a job still pending is buried, so two senders racing over one job bury it once.
const RedisScript& BuryScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if n == 1 then
  local fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
end
return n
)lua");
  return *kScript;
}

// KEYS: stream. ARGV: group, idle_ms. Atomic, so a consumer cannot read a job between the check
// and the deletion (deleting a consumer drops its pending entries).
const RedisScript& PruneScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if tonumber(info['pending']) == 0 and tonumber(info['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
)lua");
  return *kScript;
}

absl::Status Malformed() { return absl::InternalError("unexpected stream reply from Redis"); }

// [id, [field, value, ...]] → QueuedJob; false for a deleted entry (nil) or another shape.
bool ParseEntry(const RedisReply& entry, QueuedJob* job) {
  if (!entry.IsArray() || entry.elements().size() != 2 || !entry.elements()[1].IsArray()) {
    return false;
  }
  job->id = entry.elements()[0].str();
  const auto& kv = entry.elements()[1].elements();
  for (size_t i = 0; i + 1 < kv.size(); i += 2) {
    job->fields.emplace_back(kv[i].str(), kv[i + 1].str());
  }
  return true;
}

std::string Field(const QueuedJob& job, absl::string_view name) {
  for (const auto& [field, value] : job.fields) {
    if (field == name) return value;
  }
  return "";
}

}  // namespace

RedisDeliveryQueue::RedisDeliveryQueue(std::shared_ptr<RedisClient> redis, StreamNames names)
    : redis_(std::move(redis)), names_(std::move(names)) {}

absl::Status RedisDeliveryQueue::EnsureGroup() {
  absl::StatusOr<RedisReply> reply = redis_->Command(
      {"XGROUP", "CREATE", names_.deliveries, names_.group, "0", "MKSTREAM"});
  if (!reply.ok() && absl::StrContains(reply.status().message(), "BUSYGROUP")) {
    return absl::OkStatus();
  }
  return reply.status();
}

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::Read(absl::string_view consumer,
                                                                int count,
                                                                absl::Duration block) {
  absl::StatusOr<RedisReply> reply = redis_->Command(
      {"XREADGROUP", "GROUP", names_.group, std::string(consumer), "COUNT", absl::StrCat(count),
       "BLOCK", absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(block))), "STREAMS",
       names_.deliveries, ">"});
  if (!reply.ok()) {
    // The stream or group was deleted under us (FLUSHALL, an operator): create it again.
    if (absl::StrContains(reply.status().message(), "NOGROUP")) {
      if (absl::Status s = EnsureGroup(); !s.ok()) return s;
      return std::vector<QueuedJob>{};
    }
    return reply.status();
  }
  std::vector<QueuedJob> jobs;
  if (reply->IsNil()) return jobs;
  if (!reply->IsArray()) return Malformed();
  for (const RedisReply& stream : reply->elements()) {
    if (!stream.IsArray() || stream.elements().size() != 2) return Malformed();
    for (const RedisReply& entry : stream.elements()[1].elements()) {
      QueuedJob job;
      if (ParseEntry(entry, &job)) jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::Claim(absl::string_view consumer,
                                                                 absl::Duration min_idle,
                                                                 int count) {
  std::vector<QueuedJob> jobs;
  std::string cursor = "0-0";
  // XAUTOCLAIM scans a bounded slice of the pending list per call: follow its cursor (a few
  // rounds at most) so stale jobs behind many fresh ones are found too.
  for (int round = 0; round < 16 && jobs.empty(); ++round) {
    absl::StatusOr<RedisReply> reply = redis_->Command(
        {"XAUTOCLAIM", names_.deliveries, names_.group, std::string(consumer),
         absl::StrCat(absl::ToInt64Milliseconds(min_idle)), cursor, "COUNT", absl::StrCat(count)});
    if (!reply.ok()) {
      if (absl::StrContains(reply.status().message(), "NOGROUP")) return jobs;
      return reply.status();
    }
    if (!reply->IsArray() || reply->elements().size() < 2) return Malformed();
    for (const RedisReply& entry : reply->elements()[1].elements()) {
      QueuedJob job;
      if (ParseEntry(entry, &job)) jobs.push_back(std::move(job));
    }
    cursor = reply->elements()[0].str();
    if (cursor == "0-0") break;
  }
  return jobs;
}

absl::StatusOr<int> RedisDeliveryQueue::Touch(absl::string_view id, absl::string_view consumer) {
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(TouchScript(), {names_.deliveries},
                   {names_.group, std::string(consumer), std::string(id)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsInteger()) return Malformed();
  return static_cast<int>(reply->integer());
}

absl::Status RedisDeliveryQueue::Ack(absl::string_view id) {
  return redis_->Eval(AckScript(), {names_.deliveries}, {names_.group, std::string(id)}).status();
}

absl::Status RedisDeliveryQueue::Bury(absl::string_view id, const DeadLetter& letter) {
  std::vector<std::string> args = {names_.group,
                                   std::string(id),
                                   absl::StrCat(names_.dead_max_length),
                                   "job",
                                   std::string(id),
                                   "directory",
                                   letter.directory_id,
                                   "challenge",
                                   letter.challenge_id,
                                   "channel",
                                   letter.channel,
                                   "masked",
                                   letter.masked_destination,
                                   "provider",
                                   letter.provider,
                                   "reason",
                                   letter.reason,
                                   "attempts",
                                   absl::StrCat(letter.attempts),
                                   "time_ms",
                                   absl::StrCat(absl::ToUnixMillis(letter.time))};
  return redis_->Eval(BuryScript(), {names_.deliveries, names_.dead}, args).status();
}

absl::StatusOr<bool> RedisDeliveryQueue::ChallengeLive(absl::string_view directory_id,
                                                       absl::string_view challenge_id) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"HEXISTS", keys::Challenge(directory_id, challenge_id), "mac"});
  if (!reply.ok()) return reply.status();
  return reply->integer() == 1;
}

absl::StatusOr<QueueStats> RedisDeliveryQueue::Stats() {
  QueueStats stats;
  absl::StatusOr<RedisReply> length = redis_->Command({"XLEN", names_.deliveries});
  if (!length.ok()) return length.status();
  stats.backlog = length->integer();
  absl::StatusOr<RedisReply> pending =
      redis_->Command({"XPENDING", names_.deliveries, names_.group});
  if (pending.ok() && pending->IsArray() && !pending->elements().empty()) {
    stats.pending = pending->elements()[0].integer();
  } else if (!pending.ok() && !absl::StrContains(pending.status().message(), "NOGROUP")) {
    return pending.status();
  }
  absl::StatusOr<RedisReply> dead = redis_->Command({"XLEN", names_.dead});
  if (!dead.ok()) return dead.status();
  stats.dead = dead->integer();
  return stats;
}

absl::StatusOr<int> RedisDeliveryQueue::PruneConsumers(absl::Duration idle) {
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      PruneScript(), {names_.deliveries},
      {names_.group, absl::StrCat(absl::ToInt64Milliseconds(idle))});
  if (!reply.ok()) {
    if (absl::StrContains(reply.status().message(), "NOGROUP") ||
        absl::StrContains(reply.status().message(), "no such key")) {
      return 0;
    }
    return reply.status();
  }
  return static_cast<int>(reply->integer());
}

absl::StatusOr<std::vector<DeadLetter>> RedisDeliveryQueue::ListDead(int count) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"XREVRANGE", names_.dead, "+", "-", "COUNT", absl::StrCat(count)});
  if (!reply.ok()) return reply.status();
  std::vector<DeadLetter> letters;
  for (const RedisReply& entry : reply->elements()) {
    QueuedJob job;
    if (!ParseEntry(entry, &job)) continue;
    DeadLetter d;
    d.entry_id = job.id;
    d.job_id = Field(job, "job");
    d.directory_id = Field(job, "directory");
    d.challenge_id = Field(job, "challenge");
    d.channel = Field(job, "channel");
    d.masked_destination = Field(job, "masked");
    d.provider = Field(job, "provider");
    d.reason = Field(job, "reason");
    if (!absl::SimpleAtoi(Field(job, "attempts"), &d.attempts)) d.attempts = 0;
    int64_t ms = 0;
    if (absl::SimpleAtoi(Field(job, "time_ms"), &ms)) d.time = absl::FromUnixMillis(ms);
    letters.push_back(std::move(d));
  }
  return letters;
}

}  // namespace tally::otp
