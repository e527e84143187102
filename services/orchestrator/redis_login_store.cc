#include "services/orchestrator/redis_login_store.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/util/crypto.h"

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
  r.client_ip = Get(f, "ip");
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
    caps.has_totp = absl::StrContains(flags, 't');
    caps.has_recovery_codes = absl::StrContains(flags, 'r');
    r.caps = caps;
  }
  r.step_up_level = ToInt(Get(f, "lvl"));
  r.min_level = ToInt(Get(f, "min"));
  r.device_token = Get(f, "dt");
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
  if (f.contains("rcl")) r.recovery_codes_left = ToInt(Get(f, "rcl"));
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
  if (caps.has_totp) flags += 't';
  if (caps.has_recovery_codes) flags += 'r';
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

// The lock hash holds per method `f:<method>` (consecutive failures), `total` (consecutive
// failures of every method), `until` (lock end ms), `perm` (1: locked until UnlockUser) and
// `lockt` (the latest lock's start ms: logins created at or before it are ended).
//
// One failure of `method` for `subject` (lock hash `lock`, pending set `pending`): gives the
// reservation back, counts the failure for the method and in total, locks every method from the
// method's threshold on, for first * 2^(fails - threshold) capped at max, and until UnlockUser
// from the permanent threshold on. Returns locked 0/1, the lock ms, the method's failures left,
// permanent: 0 no, 1 by this failure, 2 already.
constexpr char kRecordFailureLua[] = R"lua(
local function record_failure(lock, pending, now, reservation, method, threshold, first, max,
                              forget, permanent, permanent_ms)
  if reservation ~= '' then redis.call('ZREM', pending, reservation) end
  local fails = redis.call('HINCRBY', lock, 'f:' .. method, 1)
  local total = redis.call('HINCRBY', lock, 'total', 1)
  if redis.call('HGET', lock, 'perm') == '1' then return 1, permanent_ms, 0, 2 end
  if total >= permanent then
    redis.call('HSET', lock, 'perm', '1', 'until', string.format('%d', now + permanent_ms),
               'lockt', string.format('%d', now))
    redis.call('PERSIST', lock)
    return 1, permanent_ms, 0, 1
  end
  if fails >= threshold then
    local ms = max
    local doublings = fails - threshold
    if doublings < 40 then ms = math.min(max, first * (2 ^ doublings)) end
    redis.call('HSET', lock, 'until', string.format('%d', now + ms),
               'lockt', string.format('%d', now))
    redis.call('PEXPIRE', lock, string.format('%d', forget + ms))
    return 1, ms, 0, 0
  end
  redis.call('PEXPIRE', lock, forget)
  return 0, 0, math.min(threshold - fails, permanent - total), 0
end
)lua";

// Clears a subject's failures and locks but the latest lock's start, which is remembered for
// `memory` ms so that the logins it ended stay ended. Returns 1 when a permanent lock was cleared.
constexpr char kClearLockLua[] = R"lua(
local function clear_lock(lock, memory)
  local lockt = redis.call('HGET', lock, 'lockt')
  local permanent = redis.call('HGET', lock, 'perm') == '1'
  redis.call('DEL', lock)
  if lockt then
    redis.call('HSET', lock, 'lockt', lockt)
    redis.call('PEXPIRE', lock, memory)
  end
  if permanent then return 1 end
  return 0
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
-- Whether the login (KEYS[1]) was created at or before the latest lock of `lock`.
local function ended(lock)
  local lockt = redis.call('HGET', lock, 'lockt')
  if not lockt then return false end
  return tonumber(redis.call('HGET', KEYS[1], 'ct') or '0') <= tonumber(lockt)
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
// Reply: {0, fields} applied, {1} unknown or expired, {2} finished,
// {3, fields, locked until ms, ended 0/1}.
const RedisScript& GuardedUpdateScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kApplyUpdateLua, R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
if redis.call('HEXISTS', KEYS[1], 'sid') == 1 then return {2} end
local until_ms = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if ended(KEYS[2]) then return {3, redis.call('HGETALL', KEYS[1]), until_ms, 1} end
if until_ms > tonumber(ARGV[1]) then return {3, redis.call('HGETALL', KEYS[1]), until_ms, 0} end
apply(2)
return {0, redis.call('HGETALL', KEYS[1])}
)lua"));
  return *kScript;
}

// KEYS[2], KEYS[3]: the failing subject's lock hash and pending set. ARGV[1..9]: FailureArgs,
// ARGV[10] the factor's attempts left (or ''), then the update from ARGV[11]; its last step's
// attempts_left is written here.
// Reply: {locked, lock ms, failures left, permanent, attempts shown,
//         0 | 1 unknown | 2 finished, fields}.
const RedisScript& RejectScript() {
  static const RedisScript* const kScript =
      new RedisScript(absl::StrCat(kRecordFailureLua, kApplyUpdateLua, R"lua(
local locked, ms, left, perm = record_failure(KEYS[2], KEYS[3], tonumber(ARGV[1]), ARGV[2],
                                              ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]),
                                              tonumber(ARGV[6]), tonumber(ARGV[7]),
                                              tonumber(ARGV[8]), tonumber(ARGV[9]))
local shown = left
if ARGV[10] ~= '' then shown = math.min(shown, tonumber(ARGV[10])) end
if shown < 0 then shown = 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return {locked, ms, left, perm, shown, 1} end
if redis.call('HEXISTS', KEYS[1], 'sid') == 1 then return {locked, ms, left, perm, shown, 2} end
apply(11)
redis.call('HSET', KEYS[1], 'ls_l', shown)
return {locked, ms, left, perm, shown, 0, redis.call('HGETALL', KEYS[1])}
)lua"));
  return *kScript;
}

// ARGV: token, session id, session expiry ms, lock start memory ms, then the update from
// ARGV[5]. The winner's lockout success clears its subject's failures (not a permanent lock).
// Reply: {1} unknown or expired, {0, fields, won}.
const RedisScript& FinishScript() {
  static const RedisScript* const kScript =
      new RedisScript(absl::StrCat(kClearLockLua, kApplyUpdateLua, R"lua(
settle(5)
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local won = 0
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 then
  apply(5)
  redis.call('HSET', KEYS[1], 'tok', ARGV[1], 'sid', ARGV[2], 'sexp', ARGV[3])
  won = 1
  if #KEYS >= 3 and redis.call('HGET', KEYS[2], 'perm') ~= '1' then
    clear_lock(KEYS[2], ARGV[4])
  end
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
  if (u.device_trusted.has_value()) {
    pairs.emplace_back("dt", "");
    // Checked once per login (the token is dropped in the same write), so a plain HSET.
    if (*u.device_trusted) {
      pairs.emplace_back(MethodField(::tally::common::v1::AUTH_METHOD_TRUSTED_DEVICE),
                         Ms(u.completed_at));
    }
  }
  if (u.recovery_codes_left.has_value()) {
    pairs.emplace_back("rcl", absl::StrCat(*u.recovery_codes_left));
  }
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

// ARGV[1..9] of record_failure's callers: now ms, reservation, method, threshold, first lock
// ms, max lock ms, forget-after ms, permanent threshold, permanent lock ms.
std::vector<std::string> FailureArgs(absl::Time now, AuthMethod method,
                                     absl::string_view reservation_id,
                                     const LockoutPolicy& policy) {
  return {Ms(now),
          std::string(reservation_id),
          absl::StrCat(static_cast<int>(method)),
          absl::StrCat(policy.threshold),
          MsArg(policy.first_lock),
          MsArg(policy.max_lock),
          MsArg(policy.forget_after),
          absl::StrCat(policy.permanent_threshold),
          MsArg(kPermanentLock)};
}

// record_failure's four results, from the start of a script's reply.
LockOutcome ToLockOutcome(const std::vector<RedisReply>& reply) {
  LockOutcome outcome;
  outcome.locked = reply[0].integer() == 1;
  outcome.retry_after = absl::Milliseconds(reply[1].integer());
  outcome.attempts_left = static_cast<int>(reply[2].integer());
  outcome.permanent = reply[3].integer() != 0;
  outcome.newly_permanent = reply[3].integer() == 1;
  return outcome;
}

}  // namespace

RedisLoginStore::RedisLoginStore(std::shared_ptr<RedisClient> redis) : redis_(std::move(redis)) {}

absl::StatusOr<absl::Duration> RedisLoginStore::Create(const LoginRecord& r,
                                                       absl::Duration ttl) {
  Pairs pairs = {
      {"id", r.login_id},        {"dir", r.directory_id},
      {"name", r.username},      {"ip", r.client_ip},
      {"subj", r.subject},       {"cand", r.candidate_user_id},
      {"user", r.user_id},       {"lvl", r.step_up_level > 0 ? absl::StrCat(r.step_up_level) : ""},
      {"fam", r.family_id},      {"fexp", r.family_id.empty() ? "" : Ms(r.family_expire_time)},
      {"ct", Ms(r.create_time)}, {"et", Ms(r.expire_time)},
      {"min", r.min_level > 0 ? absl::StrCat(r.min_level) : ""},
      {"dt", r.device_token}};
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

// Reply: 0 claimed now, 1 claimed before, 2 unknown or expired, 3 not finished.
static const RedisScript& ClaimDeviceScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 2 end
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 then return 3 end
return 1 - redis.call('HSETNX', KEYS[1], 'rd', '1')
)lua");
  return *kScript;
}

absl::StatusOr<bool> RedisLoginStore::ClaimDeviceRemembering(absl::string_view login_id) {
  absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(ClaimDeviceScript(), {LoginKey(*directory, login_id)}, {});
  if (!reply.ok()) return reply.status();
  if (!reply->IsInteger()) return Corrupt("claim device");
  switch (reply->integer()) {
    case 0: return true;
    case 1: return false;
    case 2: return LoginNotFoundError();
    case 3: return absl::FailedPreconditionError("the login has not succeeded");
    default: return Corrupt("claim device");
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
      if (e.size() < 4) return Corrupt("guarded update");
      const absl::Time until = absl::FromUnixMillis(e[2].integer());
      const absl::Duration left = until > now ? until - now : absl::ZeroDuration();
      return GuardedUpdate{FromFields(ToFields(e[1])),
                           e[3].integer() == 1 ? EndedLoginLockedFor(left) : left};
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
  std::vector<std::string> args =
      FailureArgs(failure.now, failure.method, failure.reservation_id, failure.policy);
  args.push_back(failure.factor_attempts_left.has_value()
                     ? absl::StrCat(*failure.factor_attempts_left)
                     : std::string());
  AppendUpdate(*directory, update, keys, args);
  // Every failure counts towards a lock: one a failover lost would be a free guess.
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(RejectScript(), keys, args, RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  const std::vector<RedisReply>& e = reply->elements();
  if (!reply->IsArray() || e.size() < 6) return Corrupt("reject");
  Rejection rejection;
  rejection.outcome = ToLockOutcome(e);
  rejection.attempts_left = static_cast<int>(e[4].integer());
  switch (e[5].integer()) {
    case 0:
      if (e.size() < 7) return Corrupt("reject");
      rejection.record = FromFields(ToFields(e[6]));
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
                                   Ms(session_expire_time), MsArg(kLockStartMemory)};
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

// KEYS: lock hash, pending set. ARGV: now ms, threshold, reservation id, reservation ttl ms,
// permanent threshold, the login's create time ms ('' for none).
// Reply: {1, 0} granted; {0, retry_after_ms} refused; {0, lock ms left, 1} the login was ended.
// Checks allowed at once = failures left before a lock, for the method with the most failures
// and in total (at least 1: after a lock has run out, every further failure locks again, so one
// check at a time).
const RedisScript& ReserveScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local fields = redis.call('HGETALL', KEYS[1])
local worst, total, locked_until, lockt, perm = 0, 0, 0, nil, false
for i = 1, #fields, 2 do
  local name, value = fields[i], fields[i + 1]
  if string.sub(name, 1, 2) == 'f:' then
    worst = math.max(worst, tonumber(value))
  elseif name == 'total' then total = tonumber(value)
  elseif name == 'until' then locked_until = tonumber(value)
  elseif name == 'lockt' then lockt = tonumber(value)
  elseif name == 'perm' then perm = value == '1' end
end
local left = math.max(0, locked_until - now)
if lockt and ARGV[6] ~= '' and tonumber(ARGV[6]) <= lockt then return {0, left, 1} end
if perm or left > 0 then return {0, left} end
local allowed = math.min(threshold - worst, tonumber(ARGV[5]) - total)
if allowed < 1 then allowed = 1 end
if redis.call('ZCARD', KEYS[2]) >= allowed then return {0, -1} end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0}
)lua");
  return *kScript;
}

// KEYS: lock hash, pending set. ARGV: FailureArgs.
// Reply: {locked 0/1, lock ms, attempts left, permanent 0/1}.
const RedisScript& FailureScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kRecordFailureLua, R"lua(
local locked, ms, left, perm = record_failure(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2],
                                              ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]),
                                              tonumber(ARGV[6]), tonumber(ARGV[7]),
                                              tonumber(ARGV[8]), tonumber(ARGV[9]))
return {locked, ms, left, perm}
)lua"));
  return *kScript;
}

// KEYS: lock hash, pending set. ARGV: lock start memory ms.
// Reply: 1 when a permanent lock was cleared.
const RedisScript& UnlockScript() {
  static const RedisScript* const kScript = new RedisScript(absl::StrCat(kClearLockLua, R"lua(
redis.call('DEL', KEYS[2])
return clear_lock(KEYS[1], ARGV[1])
)lua"));
  return *kScript;
}

// KEYS: lock hash. ARGV: now ms, the login's create time ms ('' for none).
// Reply: {locked until ms, ended 0/1}.
const RedisScript& LockedForScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local lockt = redis.call('HGET', KEYS[1], 'lockt')
if lockt and ARGV[2] ~= '' and tonumber(ARGV[2]) <= tonumber(lockt) then return {until_ms, 1} end
return {until_ms, 0}
)lua");
  return *kScript;
}

// The create time of a login for the scripts above: '' for none.
std::string LoginCreatedArg(absl::Time login_created) {
  return login_created == absl::InfiniteFuture() ? std::string() : Ms(login_created);
}

}  // namespace

RedisLockoutStore::RedisLockoutStore(std::shared_ptr<RedisClient> redis, LockoutPolicy policy,
                                     RandomSource& random)
    : redis_(std::move(redis)), policy_(policy), random_(random) {}

absl::StatusOr<Reservation> RedisLockoutStore::Reserve(absl::string_view directory_id,
                                                       absl::string_view subject, absl::Time now,
                                                       absl::Time login_created) {
  Reservation reservation;
  reservation.id = NewId(random_, "rsv_");
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      ReserveScript(), {LockKey(directory_id, subject), PendingKey(directory_id, subject)},
      {Ms(now), absl::StrCat(policy_.threshold), reservation.id, MsArg(policy_.reservation_ttl),
       absl::StrCat(policy_.permanent_threshold), LoginCreatedArg(login_created)});
  if (!reply.ok()) return reply.status();
  const std::vector<RedisReply>& e = reply->elements();
  if (!reply->IsArray() || e.size() < 2) return Corrupt("reserve");
  reservation.granted = e[0].integer() == 1;
  if (!reservation.granted) {
    const int64_t ms = e[1].integer();
    reservation.retry_after = ms < 0 ? policy_.busy_retry_after : absl::Milliseconds(ms);
    if (e.size() > 2 && e[2].integer() == 1) {
      reservation.retry_after = EndedLoginLockedFor(reservation.retry_after);
    }
    reservation.id.clear();
  }
  return reservation;
}

absl::StatusOr<LockOutcome> RedisLockoutStore::RecordFailure(absl::string_view directory_id,
                                                             absl::string_view subject,
                                                             AuthMethod method,
                                                             absl::string_view reservation_id,
                                                             absl::Time now) {
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      FailureScript(), {LockKey(directory_id, subject), PendingKey(directory_id, subject)},
      FailureArgs(now, method, reservation_id, policy_), RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 4) return Corrupt("failure");
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
                                                            absl::Time now,
                                                            absl::Time login_created) {
  absl::StatusOr<RedisReply> reply =
      redis_->Eval(LockedForScript(), {LockKey(directory_id, subject)},
                   {Ms(now), LoginCreatedArg(login_created)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray() || reply->elements().size() != 2) return Corrupt("locked for");
  const absl::Time until = absl::FromUnixMillis(reply->elements()[0].integer());
  const absl::Duration left = until > now ? until - now : absl::ZeroDuration();
  return reply->elements()[1].integer() == 1 ? EndedLoginLockedFor(left) : left;
}

absl::StatusOr<int> RedisLockoutStore::AttemptsLeft(absl::string_view directory_id,
                                                    absl::string_view subject) {
  absl::StatusOr<RedisReply> reply = redis_->Command({"HGETALL", LockKey(directory_id, subject)});
  if (!reply.ok()) return reply.status();
  if (!reply->IsArray()) return Corrupt("HGETALL");
  int worst = 0;
  int total = 0;
  for (const auto& [name, value] : ToFields(*reply)) {
    if (absl::StartsWith(name, "f:")) worst = std::max(worst, ToInt(value));
    if (name == "total") total = ToInt(value);
  }
  return std::max(1, std::min(policy_.threshold - worst, policy_.permanent_threshold - total));
}

absl::StatusOr<bool> RedisLockoutStore::Unlock(absl::string_view directory_id,
                                               absl::string_view subject) {
  // A security write like a failure: a failover must not bring the lock back, nor lose it.
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      UnlockScript(), {LockKey(directory_id, subject), PendingKey(directory_id, subject)},
      {MsArg(kLockStartMemory)}, RedisDurability::kReplicated);
  if (!reply.ok()) return reply.status();
  return reply->integer() == 1;
}

// ---------------------------------------------------------------------------------------------
// StartLogin's rate limits

namespace {

// KEYS[1]: the directory's counter; KEYS[2], when given, the address's. ARGV: directory limit,
// address limit (0: none), ms to the window's end. Reply: 1 counted, 0 refused (nothing counted).
const RedisScript& StartLimitScript() {
  static const RedisScript* const kScript = new RedisScript(R"lua(
local function full(key, limit)
  return limit > 0 and tonumber(redis.call('GET', key) or '0') >= limit
end
if full(KEYS[1], tonumber(ARGV[1])) then return 0 end
if #KEYS > 1 and full(KEYS[2], tonumber(ARGV[2])) then return 0 end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 1
)lua");
  return *kScript;
}

}  // namespace

RedisStartLimiter::RedisStartLimiter(std::shared_ptr<RedisClient> redis, StartLimits limits)
    : redis_(std::move(redis)), limits_(limits) {}

absl::StatusOr<absl::Duration> RedisStartLimiter::Acquire(absl::string_view directory_id,
                                                          absl::string_view client_key,
                                                          absl::Time now) {
  if (limits_.per_directory_per_minute <= 0 && limits_.per_client_per_minute <= 0) {
    return absl::ZeroDuration();
  }
  const int64_t window_ms = absl::ToInt64Milliseconds(kStartLimitWindow);
  const int64_t now_ms = absl::ToUnixMillis(now);
  const int64_t window = now_ms / window_ms;
  const int64_t left_ms = (window + 1) * window_ms - now_ms;
  const std::string directory_key = absl::StrCat("{", directory_id, "}:rl:start:", window);
  std::vector<std::string> keys = {directory_key};
  if (!client_key.empty() && limits_.per_client_per_minute > 0) {
    keys.push_back(absl::StrCat(directory_key, ":", HexEncode(Sha256(client_key))));
  }
  absl::StatusOr<RedisReply> reply = redis_->Eval(
      StartLimitScript(), keys,
      {absl::StrCat(std::max(0, limits_.per_directory_per_minute)),
       absl::StrCat(std::max(0, limits_.per_client_per_minute)), absl::StrCat(left_ms)});
  if (!reply.ok()) return reply.status();
  return reply->integer() == 1 ? absl::ZeroDuration() : absl::Milliseconds(left_ms);
}

}  // namespace tally::orchestrator
