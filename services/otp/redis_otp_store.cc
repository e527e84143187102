#include "services/otp/redis_otp_store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/otp/otp_keys.h"

namespace tally::otp {
namespace {

// The one issue script of every send (a code, a code to nobody, a notice): checks every budget,
// then counts the send in each and writes the challenge, or writes nothing.
// KEYS: the budgets' sorted sets of send times (1..W), the directory's day counter (when
//       ARGV[3] > 0), the challenge (last, for a code).
// ARGV: [1] now_ms, [2] W, [3] day cap (0: none), [4] end of the day (ms), [5] '1': the send
//       counts in the day, [6] '1': answer as if it counted, [7] member (challenge or notice
//       id), [8] '1': a code, then its challenge: [9] ttl_ms, [10] mac, [11] attempts,
//       [12] channel, [13] user, [14] destination, [15] '1': to nobody; from [16] one triple
//       per budget: window_ms, cap, cooldown_ms.
// Returns {0, budget index (0: the day), 'cooldown' or 'cap', wait_ms} or {1, next allowed
// send (ms)}. Time comes from the caller's clock.
const RedisScript& IssueScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local day_cap = tonumber(ARGV[3])
local day_end = tonumber(ARGV[4])
local function budget(i)
  local at = 16 + 3 * (i - 1)
  return tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
end
for i = 1, w do
  local window, cap, cooldown = budget(i)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  if last[2] then
    local wait = tonumber(last[2]) + cooldown - now
    if wait > 0 then return {0, i, 'cooldown', wait} end
  end
  if redis.call('ZCARD', KEYS[i]) >= cap then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {0, i, 'cap', math.max(1, tonumber(oldest[2]) + window - now)}
  end
end
local sent_today = 0
if day_cap > 0 then
  sent_today = tonumber(redis.call('GET', KEYS[w + 1]) or '0')
  if sent_today >= day_cap then return {0, 0, 'cap', math.max(1, day_end - now)} end
end
if ARGV[8] == '1' then
  -- The challenge's key is its slot (user or no-recipient key, and channel): writing it
  -- replaces the previous code of that slot, which VerifyCode then answers as EXPIRED.
  local challenge = KEYS[#KEYS]
  local ttl = tonumber(ARGV[9])
  -- No code's MAC (64 hex digits) equals 'none'.
  local mac = ARGV[10]
  if ARGV[15] == '1' then mac = 'none' end
  redis.call('DEL', challenge)
  redis.call('HSET', challenge, 'id', ARGV[7], 'mac', mac, 'attempts', ARGV[11],
             'channel', ARGV[12], 'user', ARGV[13], 'destination', ARGV[14],
             'expire_ms', tostring(now + ttl))
  -- Redis TTLs are a safety net only: expiry is decided with the caller's clock.
  redis.call('PEXPIRE', challenge, ttl)
end
-- Counted in every budget; the earliest next send is after every cooldown and once every
-- budget at its cap frees up.
local next_ok = now
for i = 1, w do
  local window, cap, cooldown = budget(i)
  redis.call('ZADD', KEYS[i], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[i], math.max(window, cooldown))
  next_ok = math.max(next_ok, now + cooldown)
  if redis.call('ZCARD', KEYS[i]) >= cap then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    next_ok = math.max(next_ok, tonumber(oldest[2]) + window)
  end
end
if day_cap > 0 then
  if ARGV[5] == '1' then
    redis.call('INCR', KEYS[w + 1])
    redis.call('PEXPIRE', KEYS[w + 1], math.max(1, day_end - now) + 3600000)
  end
  if ARGV[6] == '1' and sent_today + 1 >= day_cap then next_ok = math.max(next_ok, day_end) end
end
return {1, next_ok}
)lua");
  return *kScript;
}

// KEYS: challenge. ARGV: now_ms, mac, challenge id.
// Returns {result, attempts_left, channel, user}; result is accepted, wrong, too_many, expired.
// A challenge replaced by a resend has another id in its key: expired. The MACs are compared in
// time independent of where they differ.
const RedisScript& VerifyScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'mac', 'attempts', 'channel', 'user', 'expire_ms', 'id')
if not h[2] or h[6] ~= ARGV[3] then return {'expired', 0, '', ''} end
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
int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

absl::Status Malformed() { return absl::InternalError("unexpected reply from the OTP script"); }

}  // namespace

RedisOtpStore::RedisOtpStore(std::shared_ptr<RedisClient> redis) : redis_(std::move(redis)) {}

absl::StatusOr<IssueResult> RedisOtpStore::Issue(const IssueParams& p) {
  const std::string& dir = p.directory_id;
  std::vector<std::string> keys;
  for (const BudgetWindow& w : p.windows) {
    keys.push_back(keys::BudgetSends(dir, BudgetKey(w.budget), w.tag));
  }
  if (p.day.cap > 0) keys.push_back(keys::DirectoryDay(dir, p.day.day));
  std::vector<std::string> args = {absl::StrCat(Millis(p.now)),
                                   absl::StrCat(p.windows.size()),
                                   absl::StrCat(p.day.cap),
                                   absl::StrCat(Millis(p.day.end)),
                                   p.day.count ? "1" : "0",
                                   p.day.answer_as_counted ? "1" : "0",
                                   p.member,
                                   p.challenge.has_value() ? "1" : "0"};
  if (p.challenge.has_value()) {
    const ChallengeWrite& c = *p.challenge;
    std::optional<std::string> slot = keys::ChallengeSlot(c.challenge_id);
    if (!slot.has_value()) return absl::InternalError("challenge id without a slot");
    keys.push_back(keys::Challenge(dir, *slot));
    args.insert(args.end(), {absl::StrCat(std::max<int64_t>(1, Millis(c.code_ttl))),
                             c.code_mac_hex, absl::StrCat(c.max_attempts),
                             absl::StrCat(static_cast<int>(c.channel)), c.user_id, c.destination,
                             c.no_recipient ? "1" : "0"});
  } else {
    args.insert(args.end(), 7, "");
  }
  for (const BudgetWindow& w : p.windows) {
    args.insert(args.end(), {absl::StrCat(std::max<int64_t>(1, Millis(w.window))),
                             absl::StrCat(w.cap), absl::StrCat(Millis(w.cooldown))});
  }
  absl::StatusOr<RedisReply> reply = redis_->Eval(IssueScript(), keys, args);
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements();
  if (!reply->IsArray() || e.size() < 2 || !e[0].IsInteger()) return Malformed();
  IssueResult result;
  if (e[0].integer() == 1) {
    if (e.size() != 2 || !e[1].IsInteger()) return Malformed();
    result.issued = true;
    result.resend_after = absl::FromUnixMillis(e[1].integer());
    return result;
  }
  if (e.size() != 4 || !e[1].IsInteger() || !e[3].IsInteger()) return Malformed();
  const int64_t index = e[1].integer();
  if (index < 0 || index > static_cast<int64_t>(p.windows.size())) return Malformed();
  result.refusal.budget = index == 0 ? Budget::kDirectoryDay : p.windows[index - 1].budget;
  result.refusal.cooldown = e[2].str() == "cooldown";
  result.refusal.retry_after = absl::Milliseconds(e[3].integer());
  return result;
}

absl::StatusOr<VerifyOutcome> RedisOtpStore::Verify(absl::string_view directory_id,
                                                    absl::string_view challenge_id,
                                                    absl::string_view code_mac_hex,
                                                    absl::Time now) {
  VerifyOutcome outcome;
  std::optional<std::string> slot = keys::ChallengeSlot(challenge_id);
  if (!slot.has_value()) {
    // Not an id this service issued: unknown.
    outcome.result = pb::VERIFY_RESULT_EXPIRED;
    return outcome;
  }
  // Replicated: a code consumed (or an attempt spent) on a primary that dies before its replica
  // has it would be accepted again after the failover.
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      VerifyScript(), {keys::Challenge(directory_id, *slot)},
      {absl::StrCat(Millis(now)), std::string(code_mac_hex), std::string(challenge_id)},
      RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  const auto& e = reply->elements();
  if (!reply->IsArray() || e.size() != 4 || !e[1].IsInteger()) return Malformed();
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
