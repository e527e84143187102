#include "services/orchestrator/redis_login_store.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tally::orchestrator {
namespace {

namespace pb = ::tally::orchestrator::v1;
using ::tally::otp::v1::Channel;

std::string LoginKey(absl::string_view directory_id, absl::string_view login_id) {
  return absl::StrCat("{", directory_id, "}:login:", login_id);
}

std::string Ms(absl::Time t) { return absl::StrCat(absl::ToUnixMillis(t)); }
std::string MsArg(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

absl::Time FromMs(const std::string& value) {
  int64_t ms = 0;
  if (!absl::SimpleAtoi(value, &ms)) return absl::InfinitePast();
  return absl::FromUnixMillis(ms);
}

int ToInt(const std::string& value) {
  int n = 0;
  return absl::SimpleAtoi(value, &n) ? n : 0;
}

std::string MethodField(AuthMethod method) { return absl::StrCat("m:", static_cast<int>(method)); }

absl::Status Corrupt(absl::string_view what) {
  return absl::InternalError(absl::StrCat("login store: unexpected reply to ", what));
}

using Fields = absl::flat_hash_map<std::string, std::string>;

Fields ToFields(const RedisReply& hgetall) {
  Fields fields;
  const std::vector<RedisReply>& e = hgetall.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) fields[e[i].str()] = e[i + 1].str();
  return fields;
}

std::string Get(const Fields& fields, absl::string_view name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : it->second;
}

LoginRecord FromFields(const Fields& f) {
  LoginRecord r;
  r.login_id = Get(f, "id");
  r.directory_id = Get(f, "dir");
  r.username = Get(f, "name");
  r.subject = Get(f, "subj");
  r.candidate_user_id = Get(f, "cand");
  r.user_id = Get(f, "user");
  if (f.contains("caps")) {
    const std::string flags = Get(f, "caps");
    UserCaps caps;
    caps.username = Get(f, "caps_name");
    caps.has_password = absl::StrContains(flags, 'w');
    caps.has_phone = absl::StrContains(flags, 'p');
    caps.has_email = absl::StrContains(flags, 'e');
    caps.has_passkey = absl::StrContains(flags, 'K') ? 1 : absl::StrContains(flags, 'k') ? 0 : -1;
    r.caps = caps;
  }
  r.step_up_level = ToInt(Get(f, "lvl"));
  r.family_id = Get(f, "fam");
  if (!r.family_id.empty()) r.family_expire_time = FromMs(Get(f, "fexp"));
  for (const auto& [name, value] : f) {
    int method = 0;
    if (absl::StartsWith(name, "m:") && absl::SimpleAtoi(name.substr(2), &method) &&
        ::tally::common::v1::AuthMethod_IsValid(method)) {
      r.completed[static_cast<AuthMethod>(method)] = FromMs(value);
    }
    if (absl::StartsWith(name, "c:") && absl::SimpleAtoi(name.substr(2), &method) &&
        ::tally::common::v1::AuthMethod_IsValid(method)) {
      r.carried[static_cast<AuthMethod>(method)] = FromMs(value);
    }
  }
  if (f.contains("otp_ch")) {
    OtpState otp;
    otp.channel = static_cast<Channel>(ToInt(Get(f, "otp_ch")));
    otp.challenge_id = Get(f, "otp_id");
    otp.masked_destination = Get(f, "otp_mask");
    otp.resend_after = FromMs(Get(f, "otp_ra"));
    r.otp = otp;
  }
  r.passkey_challenge_id = Get(f, "wa");
  r.passkey_synced = Get(f, "pks") == "1";
  if (f.contains("ls_m")) {
    LastStep step;
    step.method = static_cast<AuthMethod>(ToInt(Get(f, "ls_m")));
    step.outcome = static_cast<pb::StepOutcome>(ToInt(Get(f, "ls_o")));
    step.attempts_left = ToInt(Get(f, "ls_l"));
    r.last_step = step;
  }
  r.create_time = FromMs(Get(f, "ct"));
  r.expire_time = FromMs(Get(f, "et"));
  r.session_token = Get(f, "tok");
  r.session_id = Get(f, "sid");
  r.session_expire_time = FromMs(Get(f, "sexp"));
  return r;
}

// Field/value pairs; an empty value deletes the field.
using Pairs = std::vector<std::pair<std::string, std::string>>;

void AppendCaps(const UserCaps& caps, Pairs& out) {
  std::string flags = "-";  // never empty: an empty value would delete the field
  if (caps.has_password) flags += 'w';
  if (caps.has_phone) flags += 'p';
  if (caps.has_email) flags += 'e';
  if (caps.has_passkey == 1) flags += 'K';
  if (caps.has_passkey == 0) flags += 'k';
  out.emplace_back("caps", flags);
  out.emplace_back("caps_name", caps.username);
}

void AppendOtp(const OtpState& otp, Pairs& out) {
  out.emplace_back("otp_ch", absl::StrCat(static_cast<int>(otp.channel)));
  out.emplace_back("otp_id", otp.challenge_id);
  out.emplace_back("otp_mask", otp.masked_destination);
  out.emplace_back("otp_ra", Ms(otp.resend_after));
}

void AppendLastStep(const LastStep& step, Pairs& out) {
  out.emplace_back("ls_m", absl::StrCat(static_cast<int>(step.method)));
  out.emplace_back("ls_o", absl::StrCat(static_cast<int>(step.outcome)));
  out.emplace_back("ls_l", absl::StrCat(step.attempts_left));
}

std::string LockKey(absl::string_view directory_id, absl::string_view subject) {
  return absl::StrCat("{", directory_id, "}:rl:lock:", subject);
}
std::string PendingKey(absl::string_view directory_id, absl::string_view subject) {
  return absl::StrCat(LockKey(directory_id, subject), ":pending");
}

// One failure of `subject` (lock hash `lock`, pending set `pending`): gives the reservation back,
// counts the failure, and locks from the threshold on, for first * 2^(fails - threshold) capped
// at max. Returns locked 0/1, the lock ms, the failures left.
constexpr char kRecordFailureLua[] = R"lua(
local function record_failure(lock, pending, now, reservation, threshold, first, max, forget)
  if reservation ~= '' then redis.call('ZREM', pending, reservation) end
  local fails = redis.call('HINCRBY', lock, 'fails', 1)
  if fails >= threshold then
    local ms = max
    local doublings = fails - threshold
    if doublings < 40 then ms = math.min(max, first * (2 ^ doublings)) end
    redis.call('HSET', lock, 'until', string.format('%d', now + ms))
    redis.call('PEXPIRE', lock, string.format('%d', forget + ms))
    return 1, ms, 0
  end
  redis.call('PEXPIRE', lock, forget)
  return 0, 0, threshold - fails
end
)lua";

// Shared by the update and finish scripts. KEYS[1] is the login; KEYS[2] and KEYS[3], when
// given, the lock hash and pending set of a subject whose factor was right. The update's
// arguments start at ARGV[o]: the method field to record once, its time, the reservation to
// give back, then field/value pairs (an empty value deletes).
constexpr char kApplyUpdateLua[] = R"lua(
local function settle(o)
  if #KEYS < 3 then return end
  if ARGV[o + 2] ~= '' then redis.call('ZREM', KEYS[3], ARGV[o + 2]) end
  redis.call('DEL', KEYS[2])
end
local function apply(o)
  if ARGV[o] ~= '' then redis.call('HSETNX', KEYS[1], ARGV[o], ARGV[o + 1]) end
  for i = o + 3, #ARGV, 2 do
    if ARGV[i + 1] == '' then
      redis.call('HDEL', KEYS[1], ARGV[i])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    end
  end
end
)lua";

// Reply: {0, fields} ok, {1} unknown or expired, {2} finished.
const RedisScript& UpdateScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kApplyUpdateLua, R"lua(
settle(1)
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
if redis.call('HEXISTS', KEYS[1], 'sid') == 1 then return {2} end
apply(1)
return {0, redis.call('HGETALL', KEYS[1])}
)lua"));
  return *kScript;
}

// KEYS[2]: the lock hash of the subject to check. ARGV: now ms, then the update from ARGV[2].
// Reply: {0, fields} applied, {1} unknown or expired, {2} finished, {3, fields, locked until ms}.
const RedisScript& GuardedUpdateScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kApplyUpdateLua, R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
if redis.call('HEXISTS', KEYS[1], 'sid') == 1 then return {2} end
local until_ms = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if until_ms > tonumber(ARGV[1]) then return {3, redis.call('HGETALL', KEYS[1]), until_ms} end
apply(2)
return {0, redis.call('HGETALL', KEYS[1])}
)lua"));
  return *kScript;
}

// KEYS[2], KEYS[3]: the failing subject's lock hash and pending set. ARGV: now ms, reservation,
// threshold, first lock ms, max lock ms, forget-after ms, the factor's attempts left (or ''),
// then the update from ARGV[8]; its last step's attempts_left is written here.
// Reply: {locked, lock ms, failures left, attempts shown, 0 | 1 unknown | 2 finished, fields}.
const RedisScript& RejectScript() {
  static const RedisScript* const kScript =
      new RedisScript(absl::StrCat(kRecordFailureLua, kApplyUpdateLua, R"lua(
local now = tonumber(ARGV[1])
local locked, ms, left = record_failure(KEYS[2], KEYS[3], now, ARGV[2], tonumber(ARGV[3]),
                                        tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
local shown = left
if ARGV[7] ~= '' then shown = math.min(shown, tonumber(ARGV[7])) end
if shown < 0 then shown = 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return {locked, ms, left, shown, 1} end
if redis.call('HEXISTS', KEYS[1], 'sid') == 1 then return {locked, ms, left, shown, 2} end
apply(8)
redis.call('HSET', KEYS[1], 'ls_l', shown)
return {locked, ms, left, shown, 0, redis.call('HGETALL', KEYS[1])}
)lua"));
  return *kScript;
}

// ARGV: token, session id, session expiry ms, then the update from ARGV[4].
// Reply: {1} unknown or expired, {0, fields, won}.
const RedisScript& FinishScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kApplyUpdateLua, R"lua(
settle(4)
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local won = 0
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 then
  apply(4)
  redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'sid', ARGV[2], 'sexp', ARGV[3])
  won = 1
end
return {0, redis.call('HGETALL', KEYS[1]), won}
)lua"));
  return *kScript;
}

// The keys and arguments of `update` for kApplyUpdateLua, appended to `keys` and `args`.
void AppendUpdate(absl::string_view directory_id, const LoginUpdate& u,
                  std::vector<std::string>& keys, std::vector<std::string>& args) {
  if (u.lockout_success.has_value()) {
    keys.push_back(LockKey(directory_id, u.lockout_success->subject));
    keys.push_back(PendingKey(directory_id, u.lockout_success->subject));
  }
  args.push_back(u.complete_method.has_value() ? MethodField(*u.complete_method)
                                               : std::string());
  args.push_back(Ms(u.completed_at));
  args.push_back(u.lockout_success.has_value() ? u.lockout_success->reservation_id
                                               : std::string());
  Pairs pairs;
  if (u.user_id.has_value()) pairs.emplace_back("user", *u.user_id);
  if (u.subject.has_value()) pairs.emplace_back("subj", *u.subject);
  if (u.caps.has_value()) AppendCaps(*u.caps, pairs);
  if (u.otp.has_value()) AppendOtp(*u.otp, pairs);
  if (u.passkey_challenge_id.has_value()) pairs.emplace_back("wa", *u.passkey_challenge_id);
  if (u.last_step.has_value()) AppendLastStep(*u.last_step, pairs);
  if (u.passkey_synced.has_value()) pairs.emplace_back("pks", *u.passkey_synced ? "1" : "");
  for (auto& [field, value] : pairs) {
    args.push_back(std::move(field));
    args.push_back(std::move(value));
  }
}

// Creates the hash only if the id is new (ids are random, so this is a safety net).
// KEYS[2], when given, is the subject's lock hash. Reply: {created 0/1, locked until ms or 0}.
const RedisScript& CreateScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local until_ms = 0
if #KEYS == 2 then until_ms = tonumber(redis.call('HGET', KEYS[2], 'until') or '0') end
return {1, until_ms}
)lua");
  return *kScript;
}

// ARGV[1..6] of record_failure's callers: now ms, reservation, threshold, first lock ms, max
// lock ms, forget-after ms.
std::vector<std::string> FailureArgs(absl::Time now, absl::string_view reservation_id,
                                     const LockoutPolicy& policy) {
  return {Ms(now),
          std::string(reservation_id),
          absl::StrCat(policy.threshold),
          MsArg(policy.first_lock),
          MsArg(policy.max_lock),
          MsArg(policy.forget_after)};
}

// record_failure's three results, from the start of a script's reply.
LockOutcome ToLockOutcome(const std::vector<RedisReply>& reply) {
  LockOutcome outcome;
  outcome.locked = reply[0].integer() == 1;
  outcome.retry_after = absl::Milliseconds(reply[1].integer());
  outcome.attempts_left = static_cast<int>(reply[2].integer());
  return outcome;
}

}  // namespace

RedisLoginStore::RedisLoginStore(std::shared_ptr<RedisClient> redis) : redis_(std::move(redis)) {}

absl::StatusOr<absl::Duration> RedisLoginStore::Create(const LoginRecord& r,
                                                       absl::Duration ttl) {
  Pairs pairs = {{"id", r.login_id},
                 {"dir", r.directory_id},
                 {"name", r.username},
                 {"subj", r.subject},
                 {"cand", r.candidate_user_id},
                 {"user", r.user_id},
                 {"lvl", r.step_up_level > 0 ? absl::StrCat(r.step_up_level) : ""},
                 {"fam", r.family_id},
                 {"fexp", r.family_id.empty() ? "" : Ms(r.family_expire_time)},
                 {"ct", Ms(r.create_time)},
                 {"et", Ms(r.expire_time)}};
  if (r.caps.has_value()) AppendCaps(*r.caps, pairs);
  for (const auto& [method, at] : r.completed) pairs.emplace_back(MethodField(method), Ms(at));
  for (const auto& [method, at] : r.carried) {
    pairs.emplace_back(absl::StrCat("c:", static_cast<int>(method)), Ms(at));
  }
  if (r.passkey_synced) pairs.emplace_back("pks", "1");
  std::vector<std::string> args = {absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl)))};
  for (auto& [field, value] : pairs) {
    if (value.empty()) continue;  // absent = empty
    args.push_back(field);
    args.push_back(value);
  }
  std::vector<std::string> keys = {LoginKey(r.directory_id, r.login_id)};
  if (!r.subject.empty()) keys.push_back(LockKey(r.directory_id, r.subject));
  absl::StatusOr<RedisReply> reply = redis_->Eval(CreateScript(), keys, args);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 2) return Corrupt("create");
  if (reply->elements()[0].integer() != 1) return absl::AlreadyExistsError("login id collision");
  const absl::Time until = absl::FromUnixMillis(reply->elements()[1].integer());
  return until > r.create_time ? until - r.create_time : absl::ZeroDuration();
}

absl::StatusOr<LoginRecord> RedisLoginStore::Get(absl::string_view login_id) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<RedisReply> reply = redis_->Command({"HGETALL", LoginKey(*directory, login_id)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray()) return Corrupt("HGETALL");
  if (reply->elements().empty()) return LoginNotFoundError();
  return FromFields(ToFields(*reply));
}

absl::StatusOr<LoginRecord> RedisLoginStore::Update(absl::string_view login_id,
                                                    const LoginUpdate& update) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  std::vector<std::string> keys = {LoginKey(*directory, login_id)};
  std::vector<std::string> args;
  AppendUpdate(*directory, update, keys, args);
  absl::StatusOr<RedisReply> reply = redis_->Eval(UpdateScript(), keys, args);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().empty()) return Corrupt("update");
  switch (reply->elements()[0].integer()) {
    case 0:
      if (reply->elements().size() < 2) return Corrupt("update");
      return FromFields(ToFields(reply->elements()[1]));
    case 1: return LoginNotFoundError();
    case 2: return LoginFinishedError();
    default: return Corrupt("update");
  }
}

absl::StatusOr<GuardedUpdate> RedisLoginStore::GuardedUpdateChecked(
    absl::string_view login_id, const LoginUpdate& update, absl::string_view subject,
    absl::Time now) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  std::vector<std::string> keys = {LoginKey(*directory, login_id), LockKey(*directory, subject)};
  std::vector<std::string> args = {Ms(now)};
  AppendUpdate(*directory, update, keys, args);
  absl::StatusOr<RedisReply> reply = redis_->Eval(GuardedUpdateScript(), keys, args);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().empty()) return Corrupt("guarded update");
  const std::vector<RedisReply>& e = reply->elements();
  switch (e[0].integer()) {
    case 0:
      if (e.size() < 2) return Corrupt("guarded update");
      return GuardedUpdate{FromFields(ToFields(e[1])), absl::ZeroDuration()};
    case 1: return LoginNotFoundError();
    case 2: return LoginFinishedError();
    case 3: {
      if (e.size() < 3) return Corrupt("guarded update");
      const absl::Time until = absl::FromUnixMillis(e[2].integer());
      return GuardedUpdate{FromFields(ToFields(e[1])),
                           until > now ? until - now : absl::ZeroDuration()};
    }
    default: return Corrupt("guarded update");
  }
}

absl::StatusOr<Rejection> RedisLoginStore::RejectChecked(absl::string_view login_id,
                                                         const LoginUpdate& update,
                                                         const LockoutFailure& failure) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  std::vector<std::string> keys = {LoginKey(*directory, login_id),
                                   LockKey(*directory, failure.subject),
                                   PendingKey(*directory, failure.subject)};
  std::vector<std::string> args = FailureArgs(failure.now, failure.reservation_id, failure.policy);
  args.push_back(failure.factor_attempts_left.has_value()
                     ? absl::StrCat(*failure.factor_attempts_left)
                     : std::string());
  AppendUpdate(*directory, update, keys, args);
  // Every failure counts towards a lock: one a failover lost would be a free guess.
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(RejectScript(), keys, args, RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  const std::vector<RedisReply>& e = reply->elements();
  if (!reply->IsArray() || e.size() < 5) return Corrupt("reject");
  Rejection rejection;
  rejection.outcome = ToLockOutcome(e);
  rejection.attempts_left = static_cast<int>(e[3].integer());
  switch (e[4].integer()) {
    case 0:
      if (e.size() < 6) return Corrupt("reject");
      rejection.record = FromFields(ToFields(e[5]));
      break;
    case 1: rejection.record = LoginNotFoundError(); break;
    case 2: rejection.record = LoginFinishedError(); break;
    default: return Corrupt("reject");
  }
  return rejection;
}

absl::StatusOr<FinishResult> RedisLoginStore::Finish(absl::string_view login_id,
                                                     absl::string_view token,
                                                     absl::string_view session_id,
                                                     absl::Time session_expire_time,
                                                     const LoginUpdate& update) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  std::vector<std::string> keys = {LoginKey(*directory, login_id)};
  std::vector<std::string> args = {std::string(token), std::string(session_id),
                                   Ms(session_expire_time)};
  AppendUpdate(*directory, update, keys, args);
  absl::StatusOr<RedisReply> reply = redis_->Eval(FinishScript(), keys, args);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().empty()) return Corrupt("finish");
  if (reply->elements()[0].integer() == 1) return LoginNotFoundError();
  if (reply->elements().size() < 3) return Corrupt("finish");
  return FinishResult{FromFields(ToFields(reply->elements()[1])),
                      reply->elements()[2].integer() == 1};
}

// ---------------------------------------------------------------------------------------------
// Lockout

namespace {

// KEYS: lock hash, pending set. ARGV: now ms, threshold, reservation id, reservation ttl ms.
// Reply: {1, 0} granted; {0, retry_after_ms} refused.
// Checks allowed at once = failures left before the lock (at least 1: after a lock has run out,
// every further failure locks again, so one check at a time).
const RedisScript& ReserveScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if now < locked_until then return {0, locked_until - now} end
local fails = tonumber(redis.call('HGET', KEYS[1], 'fails') or '0')
local allowed = threshold - fails
if allowed < 1 then allowed = 1 end
if redis.call('ZCARD', KEYS[2]) >= allowed then return {0, -1} end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0}
)lua");
  return *kScript;
}

// KEYS: lock hash, pending set. ARGV: now ms, reservation id, threshold, first lock ms,
// max lock ms, forget-after ms. Reply: {locked 0/1, lock ms, attempts left}.
const RedisScript& FailureScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kRecordFailureLua, R"lua(
local locked, ms, left = record_failure(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2],
                                        tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
                                        tonumber(ARGV[6]))
return {locked, ms, left}
)lua"));
  return *kScript;
}

}  // namespace

RedisLockoutStore::RedisLockoutStore(std::shared_ptr<RedisClient> redis, LockoutPolicy policy,
                                     RandomSource& random)
    : redis_(std::move(redis)), policy_(policy), random_(random) {}

absl::StatusOr<Reservation> RedisLockoutStore::Reserve(absl::string_view directory_id,
                                                       absl::string_view subject,
                                                       absl::Time now) {
  Reservation reservation;
  reservation.id = NewId(random_, "rsv_");
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      ReserveScript(), {LockKey(directory_id, subject), PendingKey(directory_id, subject)},
      {Ms(now), absl::StrCat(policy_.threshold), reservation.id,
       MsArg(policy_.reservation_ttl)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 2) return Corrupt("reserve");
  reservation.granted = reply->elements()[0].integer() == 1;
  if (!reservation.granted) {
    const int64_t ms = reply->elements()[1].integer();
    reservation.retry_after = ms < 0 ? policy_.busy_retry_after : absl::Milliseconds(ms);
    reservation.id.clear();
  }
  return reservation;
}

absl::StatusOr<LockOutcome> RedisLockoutStore::RecordFailure(absl::string_view directory_id,
                                                             absl::string_view subject,
                                                             absl::string_view reservation_id,
                                                             absl::Time now) {
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      FailureScript(), {LockKey(directory_id, subject), PendingKey(directory_id, subject)},
      FailureArgs(now, reservation_id, policy_), RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 3) return Corrupt("failure");
  return ToLockOutcome(reply->elements());
}

absl::Status RedisLockoutStore::Cancel(absl::string_view directory_id, absl::string_view subject,
                                       absl::string_view reservation_id) {
  if (reservation_id.empty()) return absl::OkStatus();
  return redis_
      ->Command({"ZREM", PendingKey(directory_id, subject), std::string(reservation_id)})
      .status();
}

absl::StatusOr<absl::Duration> RedisLockoutStore::LockedFor(absl::string_view directory_id,
                                                            absl::string_view subject,
                                                            absl::Time now) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"HGET", LockKey(directory_id, subject), "until"});
  if (!reply.ok()) return reply.status();
  if (reply->IsNil()) return absl::ZeroDuration();
  const absl::Time until = FromMs(reply->str());
  return until > now ? until - now : absl::ZeroDuration();
}

absl::StatusOr<int> RedisLockoutStore::AttemptsLeft(absl::string_view directory_id,
                                                    absl::string_view subject) {
  absl::StatusOr<RedisReply> reply =
      redis_->Command({"HGET", LockKey(directory_id, subject), "fails"});
  if (!reply.ok()) return reply.status();
  const int fails = reply->IsNil() ? 0 : ToInt(reply->str());
  return std::max(1, policy_.threshold - fails);
}

}  // namespace tally::orchestrator
