#include "services/otp/redis_delivery_queue.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/util/paging.h"
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

// KEYS: stream, dead stream. ARGV: group. {backlog, pending, dead} of one shard; a stream or
// group that does not exist yet counts 0.
const RedisScript& StatsScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local pending = 0
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(p) == 'table' and p.err == nil then pending = p[1] end
return {redis.call('XLEN', KEYS[1]), pending, redis.call('XLEN', KEYS[2])}
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

// Where a page of dead letters ends: the last entry's stream id and shard. The letters of all
// shards are ordered by stream id, newest first, then by shard. The page token's cursor packs
// them as ms << 20 | seq << 8 | shard (shards < 256; a sequence above 4095 within one
// millisecond of one shard's dead letters, which no sender comes near, is clamped).
struct DeadCursor {
  int64_t ms = 0;
  int64_t seq = 0;
  int shard = 0;
};
constexpr absl::string_view kDeadPageKind = "otp-dead";
constexpr int64_t kMaxSeq = 4095;

bool ParseStreamId(absl::string_view id, int64_t* ms, int64_t* seq) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, '-');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], ms) && absl::SimpleAtoi(parts[1], seq);
}

}  // namespace

RedisDeliveryQueue::RedisDeliveryQueue(std::shared_ptr<RedisClient> redis, QueueNames names)
    : redis_(std::move(redis)), names_(std::move(names)) {}

std::string RedisDeliveryQueue::Deliveries(int shard) const {
  return keys::Deliveries(names_.queue, shard);
}

std::string RedisDeliveryQueue::Dead(int shard) const { return keys::Dead(names_.queue, shard); }

absl::StatusOr<std::string> RedisDeliveryQueue::Enqueue(absl::string_view directory_id,
                                                        const JobFields& fields) {
  std::vector<std::string> args = {"XADD",
                                   Deliveries(keys::ShardOf(directory_id, names_.shards)), "*"};
  for (const auto& [field, value] : fields) {
    args.push_back(field);
    args.push_back(value);
  }
  absl::StatusOr<RedisReply> reply = redis_->Command(args);
  if (!reply.ok()) return reply.status();
  if (!reply->IsString()) return Malformed();
  return reply->str();
}

absl::Status RedisDeliveryQueue::Reach(absl::string_view directory_id) {
  return redis_
      ->Command({"EXISTS", Deliveries(keys::ShardOf(directory_id, names_.shards))})
      .status();
}

absl::Status RedisDeliveryQueue::EnsureGroup(int shard) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"XGROUP", "CREATE", Deliveries(shard), names_.group, "0", "MKSTREAM"});
  if (!reply.ok() && absl::StrContains(reply.status().message(), "BUSYGROUP")) {
    return absl::OkStatus();
  }
  return reply.status();
}

absl::Status RedisDeliveryQueue::EnsureGroups() {
  for (int shard = 0; shard < names_.shards; ++shard) {
    if (absl::Status s = EnsureGroup(shard); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::Read(int shard,
                                                                absl::string_view consumer,
                                                                int count,
                                                                absl::Duration block) {
  return ReadShards({shard}, consumer, count, block);
}

bool RedisDeliveryQueue::ReadsEveryShard() const { return !redis_->cluster(); }

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::ReadEvery(absl::string_view consumer,
                                                                     int count,
                                                                     absl::Duration block) {
  if (!ReadsEveryShard()) {
    return absl::FailedPreconditionError("a Redis Cluster reads one shard at a time");
  }
  std::vector<int> shards(names_.shards);
  for (int shard = 0; shard < names_.shards; ++shard) shards[shard] = shard;
  return ReadShards(shards, consumer, count, block);
}

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::ReadShards(
    const std::vector<int>& shards, absl::string_view consumer, int count,
    absl::Duration block) {
  std::vector<std::string> args = {"XREADGROUP", "GROUP", names_.group, std::string(consumer),
                                   "COUNT", absl::StrCat(count)};
  if (block > absl::ZeroDuration()) {
    args.insert(args.end(),
                {"BLOCK", absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(block)))});
  }
  args.push_back("STREAMS");
  for (int shard : shards) args.push_back(Deliveries(shard));
  args.insert(args.end(), shards.size(), ">");
  absl::StatusOr<RedisReply> reply = redis_->Command(args);
  if (!reply.ok()) {
    // A stream or group was deleted under us (FLUSHALL, an operator): create it again.
    if (absl::StrContains(reply.status().message(), "NOGROUP")) {
      for (int shard : shards) {
        if (absl::Status s = EnsureGroup(shard); !s.ok()) return s;
      }
      return std::vector<QueuedJob>{};
    }
    return reply.status();
  }
  std::vector<QueuedJob> jobs;
  if (reply->IsNil()) return jobs;
  if (!reply->IsArray()) return Malformed();
  for (const RedisReply& stream : reply->elements()) {
    if (!stream.IsArray() || stream.elements().size() != 2) return Malformed();
    // The reply names each stream; only streams with entries are in it.
    auto shard = std::find_if(shards.begin(), shards.end(), [&](int s) {
      return Deliveries(s) == stream.elements()[0].str();
    });
    if (shard == shards.end()) return Malformed();
    for (const RedisReply& entry : stream.elements()[1].elements()) {
      QueuedJob job;
      job.shard = *shard;
      if (ParseEntry(entry, &job)) jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

absl::StatusOr<std::vector<QueuedJob>> RedisDeliveryQueue::Claim(int shard,
                                                                 absl::string_view consumer,
                                                                 absl::Duration min_idle,
                                                                 int count) {
  std::vector<QueuedJob> jobs;
  std::string cursor = "0-0";
  // XAUTOCLAIM scans a bounded slice of the pending list per call: follow its cursor (a few
  // rounds at most) so stale jobs behind many fresh ones are found too.
  for (int round = 0; round < 16 && jobs.empty(); ++round) {
    absl::StatusOr<RedisReply> reply = redis_->Command(
        {"XAUTOCLAIM", Deliveries(shard), names_.group, std::string(consumer),
         absl::StrCat(absl::ToInt64Milliseconds(min_idle)), cursor, "COUNT", absl::StrCat(count)});
    if (!reply.ok()) {
      if (absl::StrContains(reply.status().message(), "NOGROUP")) return jobs;
      return reply.status();
    }
    if (!reply->IsArray() || reply->elements().size() < 2) return Malformed();
    for (const RedisReply& entry : reply->elements()[1].elements()) {
      QueuedJob job;
      job.shard = shard;
      if (ParseEntry(entry, &job)) jobs.push_back(std::move(job));
    }
    cursor = reply->elements()[0].str();
    if (cursor == "0-0") break;
  }
  return jobs;
}

absl::StatusOr<int> RedisDeliveryQueue::Touch(const QueuedJob& job, absl::string_view consumer) {
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      TouchScript(), {Deliveries(job.shard)}, {names_.group, std::string(consumer), job.id});
  if (!reply.ok()) return reply.status();
  if (!reply->IsInteger()) return Malformed();
  return static_cast<int>(reply->integer());
}

absl::Status RedisDeliveryQueue::Ack(const QueuedJob& job) {
  return redis_->Eval(AckScript(), {Deliveries(job.shard)}, {names_.group, job.id}).status();
}

absl::Status RedisDeliveryQueue::Bury(const QueuedJob& job, const DeadLetter& letter) {
  std::vector<std::string> args = {names_.group,
                                   job.id,
                                   absl::StrCat(names_.dead_max_length),
                                   "job",
                                   job.id,
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
  return redis_->Eval(BuryScript(), {Deliveries(job.shard), Dead(job.shard)}, args).status();
}

absl::StatusOr<bool> RedisDeliveryQueue::ChallengeLive(absl::string_view directory_id,
                                                       absl::string_view challenge_id) {
  std::optional<std::string> slot = keys::ChallengeSlot(challenge_id);
  if (!slot.has_value()) return false;
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"HMGET", keys::Challenge(directory_id, *slot), "id", "mac"});
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements();
  if (!reply->IsArray() || e.size() != 2) return Malformed();
  // Replaced by a resend (another id in its slot), used (gone) or dead (no MAC).
  return e[0].IsString() && e[0].str() == challenge_id && e[1].IsString();
}

absl::StatusOr<QueueStats> RedisDeliveryQueue::Stats() {
  QueueStats stats;
  for (int shard = 0; shard < names_.shards; ++shard) {
    absl::StatusOr<RedisReply> reply =
        redis_->Eval(StatsScript(), {Deliveries(shard), Dead(shard)}, {names_.group});
    if (!reply.ok()) return reply.status();
    const auto& e = reply->elements();
    if (!reply->IsArray() || e.size() != 3) return Malformed();
    stats.backlog += e[0].integer();
    stats.pending += e[1].integer();
    stats.dead += e[2].integer();
  }
  return stats;
}

absl::StatusOr<int> RedisDeliveryQueue::PruneConsumers(absl::Duration idle) {
  int removed = 0;
  for (int shard = 0; shard < names_.shards; ++shard) {
    absl::StatusOr<RedisReply> reply =
        redis_->Eval(PruneScript(), {Deliveries(shard)},
                     {names_.group, absl::StrCat(absl::ToInt64Milliseconds(idle))});
    if (!reply.ok()) {
      if (absl::StrContains(reply.status().message(), "NOGROUP") ||
          absl::StrContains(reply.status().message(), "no such key")) {
        continue;
      }
      return reply.status();
    }
    removed += static_cast<int>(reply->integer());
  }
  return removed;
}

absl::StatusOr<DeadLetterPage> RedisDeliveryQueue::ListDead(int count,
                                                            absl::string_view page_token) {
  absl::StatusOr<int64_t> cursor = DecodePageToken(kDeadPageKind, page_token);
  if (!cursor.ok()) return cursor.status();
  std::optional<DeadCursor> after;
  if (*cursor > 0) {
    after = DeadCursor{*cursor >> 20, (*cursor >> 8) & kMaxSeq, static_cast<int>(*cursor & 0xff)};
    if (after->shard >= names_.shards) {
      return absl::InvalidArgumentError("page_token is not a token this list returned");
    }
  }
  struct Entry {
    int64_t ms = 0, seq = 0;
    int shard = 0;
    DeadLetter letter;
  };
  std::vector<Entry> entries;
  bool maybe_more = false;
  for (int shard = 0; shard < names_.shards; ++shard) {
    std::string end = "+";
    if (after.has_value()) {
      // After (id, shard) come the same id in later shards, then older ids.
      end = absl::StrCat(shard > after->shard ? "" : "(", after->ms, "-", after->seq);
    }
    absl::StatusOr<RedisReply> reply =
        redis_->Command({"XREVRANGE", Dead(shard), end, "-", "COUNT", absl::StrCat(count)});
    if (!reply.ok()) return reply.status();
    if (static_cast<int>(reply->elements().size()) >= count) maybe_more = true;
    for (const RedisReply& element : reply->elements()) {
      QueuedJob job;
      Entry entry;
      if (!ParseEntry(element, &job) || !ParseStreamId(job.id, &entry.ms, &entry.seq)) continue;
      entry.shard = shard;
      DeadLetter& d = entry.letter;
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
      entries.push_back(std::move(entry));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::make_tuple(-a.ms, -a.seq, a.shard) < std::make_tuple(-b.ms, -b.seq, b.shard);
  });
  DeadLetterPage page;
  if (static_cast<int>(entries.size()) > count) {
    entries.resize(count);
    maybe_more = true;
  }
  for (Entry& entry : entries) page.letters.push_back(std::move(entry.letter));
  if (maybe_more && !entries.empty()) {
    const Entry& last = entries.back();
    page.next_page_token = EncodePageToken(
        kDeadPageKind, (last.ms << 20) | (std::min(last.seq, kMaxSeq) << 8) | last.shard);
  }
  return page;
}

}  // namespace tally::otp
