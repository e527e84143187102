#include "services/otp/redis_otp_store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/otp/otp_keys.h"

namespace tally::otp {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// KEYS: challenge, current pointer, destination sends (zset), directory day counter, stream.
// ARGV: now_ms, challenge_id, mac, attempts, channel, user, destination, ttl_ms, cooldown_ms,
//       hourly_cap, daily_cap, day_end_ms, challenge key prefix, '1' when the code goes to
//       nobody, then the job's field/value pairs.
// Returns {0, refusal, wait_ms} or {1, stream entry id ('' for nobody), next allowed send (ms)}.
// Time comes from the caller's clock. A send to nobody passes the same checks and answers the
// same, but its challenge matches no code, it is not counted against the directory's day and
// no job is queued.
const RedisScript& IssueScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[8])
local cooldown = tonumber(ARGV[9])
local hourly_cap = tonumber(ARGV[10])
local daily_cap = tonumber(ARGV[11])
local day_end = tonumber(ARGV[12])
local nobody = ARGV[14] == '1'
local window = 3600000
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
if last[2] then
  local wait = tonumber(last[2]) + cooldown - now
  if wait > 0 then return {0, 'cooldown', wait} end
end
if redis.call('ZCARD', KEYS[3]) >= hourly_cap then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return {0, 'destination_cap', math.max(1, tonumber(oldest[2]) + window - now)}
end
local sent_today = tonumber(redis.call('GET', KEYS[4]) or '0')
if sent_today >= daily_cap then
  return {0, 'directory_cap', math.max(1, day_end - now)}
end
-- A resend invalidates the previous code of this user and channel (same {dir} slot).
local previous = redis.call('GET', KEYS[2])
if previous then redis.call('DEL', ARGV[13] .. previous) end
redis.call('DEL', KEYS[1])
-- No code's MAC (64 hex digits) equals 'none'.
local mac = ARGV[3]
if nobody then mac = 'none' end
redis.call('HSET', KEYS[1], 'mac', mac, 'attempts', ARGV[4], 'channel', ARGV[5],
           'user', ARGV[6], 'destination', ARGV[7], 'expire_ms', tostring(now + ttl))
-- Redis TTLs are a safety net only: expiry is decided with the caller's clock.
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('PEXPIRE', KEYS[3], math.max(window, cooldown))
local id = ''
if not nobody then
  redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], math.max(1, day_end - now) + window)
  local job = {}
  for i = 15, #ARGV do job[#job + 1] = ARGV[i] end
  id = redis.call('XADD', KEYS[5], '*', unpack(job))
end
-- The earliest next send to this destination: after the cooldown, and after the caps free up
-- (for nobody too as if counted, so that its answer is a real send's).
local next_ok = now + cooldown
if redis.call('ZCARD', KEYS[3]) >= hourly_cap then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  next_ok = math.max(next_ok, tonumber(oldest[2]) + window)
end
if sent_today + 1 >= daily_cap then next_ok = math.max(next_ok, day_end) end
return {1, id, next_ok}
)lua");
  return *kScript;
}

// KEYS: challenge. ARGV: now_ms, mac.
// Returns {result, attempts_left, channel, user}; result is accepted, wrong, too_many, expired.
// The MACs are compared in time independent of where they differ.
const RedisScript& VerifyScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'mac', 'attempts', 'channel', 'user', 'expire_ms')
if not h[2] then return {'expired', 0, '', ''} end
if tonumber(h[5]) <= now then
  redis.call('DEL', KEYS[1])
  return {'expired', 0, '', ''}
end
local attempts = tonumber(h[2])
if attempts <= 0 or not h[1] then return {'too_many', 0, h[3], h[4]} end
local stored, given = h[1], ARGV[2]
local diff = 0
if #stored ~= #given then diff = 1 end
for i = 1, #given do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i) or 0, string.byte(given, i)))
end
if diff == 0 then
  redis.call('DEL', KEYS[1])
  return {'accepted', 0, h[3], h[4]}
end
attempts = attempts - 1
if attempts <= 0 then
  -- Dead: without its MAC it can never be accepted; kept until its TTL to answer too_many.
  redis.call('HDEL', KEYS[1], 'mac')
  redis.call('HSET', KEYS[1], 'attempts', '0')
  return {'too_many', 0, h[3], h[4]}
end
redis.call('HSET', KEYS[1], 'attempts', tostring(attempts))
return {'wrong', attempts, h[3], h[4]}
)lua");
  return *kScript;
}

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

absl::Status Malformed() { return absl::InternalError("unexpected reply from the OTP script"); }

}  // namespace

RedisOtpStore::RedisOtpStore(std::shared_ptr<RedisClient> redis, std::string stream)
    : redis_(std::move(redis)), stream_(std::move(stream)) {}

absl::StatusOr<IssueResult> RedisOtpStore::Issue(const IssueParams& p) {
  const std::string& dir = p.directory_id;
  std::vector<std::string> keys = {
      keys::Challenge(dir, p.challenge_id),
      p.no_recipient ? keys::NoRecipientCurrent(dir, p.destination_tag)
                     : keys::Current(dir, p.user_id, static_cast<int>(p.channel)),
      keys::DestinationSends(dir, p.destination_tag), keys::DirectoryDay(dir, p.day), stream_};
  std::vector<std::string> args = {
      absl::StrCat(Millis(p.now)),
      p.challenge_id,
      p.code_mac_hex,
      absl::StrCat(p.max_attempts),
      absl::StrCat(static_cast<int>(p.channel)),
      p.user_id,
      p.destination,
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(p.code_ttl))),
      absl::StrCat(absl::ToInt64Milliseconds(p.cooldown)),
      absl::StrCat(p.destination_hourly_cap),
      absl::StrCat(p.directory_daily_cap),
      absl::StrCat(Millis(p.day_end)),
      keys::ChallengePrefix(dir),
      p.no_recipient ? "1" : "0"};
  if (!p.no_recipient) {
    for (const auto& [field, value] : p.job_fields) {
      args.push_back(field);
      args.push_back(value);
    }
  }
  absl::StatusOr<RedisReply> reply = redis_->Eval(IssueScript(), keys, args);
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements();
  if (!reply->IsArray() || e.size() < 2 || !e[0].IsInteger()) return Malformed();
  IssueResult result;
  if (e[0].integer() == 1) {
    if (e.size() != 3 || !e[2].IsInteger()) return Malformed();
    result.issued = true;
    result.job_id = e[1].str();
    result.resend_after = absl::FromUnixMillis(e[2].integer());
    return result;
  }
  if (e.size() != 3 || !e[2].IsInteger()) return Malformed();
  result.refusal = e[1].str();
  result.retry_after = absl::Milliseconds(e[2].integer());
  return result;
}

absl::StatusOr<VerifyOutcome> RedisOtpStore::Verify(absl::string_view directory_id,
                                                    absl::string_view challenge_id,
                                                    absl::string_view code_mac_hex,
                                                    absl::Time now) {
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(VerifyScript(), {keys::Challenge(directory_id, challenge_id)},
                   {absl::StrCat(Millis(now)), std::string(code_mac_hex)});
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements();
  if (!reply->IsArray() || e.size() != 4 || !e[1].IsInteger()) return Malformed();
  VerifyOutcome outcome;
  const std::string& verdict = e[0].str();
  if (verdict == "expired") {
    outcome.result = pb::VERIFY_RESULT_EXPIRED;
    return outcome;
  }
  if (verdict == "accepted") {
    outcome.result = pb::VERIFY_RESULT_ACCEPTED;
  } else if (verdict == "wrong") {
    outcome.result = pb::VERIFY_RESULT_WRONG_CODE;
  } else if (verdict == "too_many") {
    outcome.result = pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS;
  } else {
    return Malformed();
  }
  outcome.attempts_left = static_cast<int>(e[1].integer());
  int channel = 0;
  if (absl::SimpleAtoi(e[2].str(), &channel) && pb::Channel_IsValid(channel)) {
    outcome.channel = static_cast<pb::Channel>(channel);
  }
  outcome.user_id = e[3].str();
  return outcome;
}

absl::Status RedisOtpStore::Ping() { return redis_->Ping(); }

}  // namespace tally::otp
