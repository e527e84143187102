#include "services/otp/otp_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/otp/client_address.h"
#include "services/otp/delivery_job.h"
#include "services/otp/destination.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/otp_keys.h"
#include "services/otp/request_checks.h"

namespace tally::otp {
namespace {

const char* ResultName(pb::VerifyResult result) {
  switch (result) {
    case pb::VERIFY_RESULT_ACCEPTED: return "accepted";
    case pb::VERIFY_RESULT_WRONG_CODE: return "wrong_code";
    case pb::VERIFY_RESULT_EXPIRED: return "expired";
    case pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS: return "too_many_attempts";
    default: return "unspecified";
  }
}

// "contact_changed", "recovery_code_used", "device_remembered".
std::string NoticeKindName(pb::NoticeKind kind) {
  std::string name = pb::NoticeKind_Name(kind);
  if (absl::StartsWith(name, "NOTICE_")) name = name.substr(7);
  return absl::AsciiStrToLower(name);
}

// What the destination budgets count: e-mail addresses case-insensitively.
std::string DestinationValue(pb::Channel channel, absl::string_view destination) {
  return channel == pb::CHANNEL_EMAIL ? absl::AsciiStrToLower(destination)
                                      : std::string(destination);
}

// The directory's UTC day around `now`.
DayCap Day(absl::Time now, int cap) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  DayCap day;
  day.cap = cap;
  day.day = absl::FormatTime("%Y%m%d", now, utc);
  day.end = absl::FromCivil(absl::ToCivilDay(now, utc) + 1, utc);
  return day;
}

}  // namespace

OtpManager::OtpManager(OtpStore& store, DeliveryQueue& queue, const Clock& clock,
                       RandomSource& random, OtpConfig config, OtpMetrics* metrics)
    : store_(store),
      queue_(queue),
      clock_(clock),
      random_(random),
      config_(std::move(config)),
      metrics_(metrics) {}

std::string OtpManager::CodeMac(absl::string_view key, absl::string_view challenge_id,
                                absl::string_view code) {
  return HexEncode(HmacSha256(key, absl::StrCat(challenge_id, code)));
}

std::string OtpManager::Tag(absl::string_view kind, pb::Channel channel,
                            absl::string_view value) const {
  return HexEncode(HmacSha256(config_.hmac_key,
                              absl::StrCat(kind, "|", ChannelName(channel), "|", value)))
      .substr(0, keys::kSlotHexDigits);
}

void OtpManager::AddCodeBudgets(const pb::SendCodeRequest& request,
                                absl::string_view client_address, IssueParams& params) const {
  const pb::Channel channel = request.channel();
  const bool nobody = request.no_recipient();
  params.day = Day(params.now, config_.directory_daily_cap);
  if (request.proven()) {
    // A code to nobody is throttled under its key as a destination (never the same tag), and
    // answers as if it counted in the directory's day, without counting.
    params.windows.push_back(
        {Budget::kDestination,
         nobody ? Tag("no-recipient", channel, request.no_recipient_key())
                : Tag("destination", channel, DestinationValue(channel, request.destination())),
         config_.destination_hourly_cap, config_.cooldown});
    params.day.count = !nobody;
    params.day.answer_as_counted = true;
    return;
  }
  // Before proof: budgets of their own, so whoever knows usernames spends these and never the
  // proven user's destination budget or the directory's day (which is checked, not counted).
  // A code to nobody draws from them exactly as a real one does.
  params.windows.push_back(
      {Budget::kUnprovenUser,
       Tag("unproven-user", channel, nobody ? request.no_recipient_key() : request.user_id()),
       config_.unproven_user_hourly_cap, config_.cooldown});
  if (!client_address.empty()) {
    params.windows.push_back({Budget::kUnprovenClientIp,
                              Tag("unproven-client", channel, client_address),
                              config_.unproven_client_ip_hourly_cap, absl::ZeroDuration()});
  }
  params.windows.push_back({Budget::kUnprovenDirectory, ChannelName(channel),
                            config_.unproven_directory_hourly_cap, absl::ZeroDuration()});
}

void OtpManager::Seal(DeliveryJob& job, absl::string_view destination,
                      const MessageText& message) {
  job.masked_destination = MaskDestination(job.channel, destination);
  OutgoingMessage outgoing;
  outgoing.channel = job.channel;
  outgoing.destination = std::string(destination);
  outgoing.subject = message.subject;
  outgoing.text = message.text;
  outgoing.challenge_id = job.challenge_id;
  job.sealed = SealMessage(config_.job_key, job, outgoing, random_);
}

absl::Status OtpManager::Refused(const SendRefusal& refusal, pb::Channel channel) const {
  if (metrics_ != nullptr) metrics_->SendRefused(BudgetName(refusal.budget), ChannelName(channel));
  return RefusalStatus(refusal);
}

absl::StatusOr<pb::SendCodeResponse> OtpManager::SendCode(const Caller& /*cluster*/,
                                                          const pb::SendCodeRequest& request) {
  if (absl::Status s = CheckSendCodeRequest(request); !s.ok()) return s;
  absl::StatusOr<std::string> client_address = ClientAddressKey(request.client_ip());
  if (!client_address.ok()) return client_address.status();
  const pb::Channel channel = request.channel();
  const bool nobody = request.no_recipient();
  const absl::Time now = clock_.Now();

  // The challenge's slot: one per user (or no-recipient key) and channel, so a resend replaces
  // the previous code.
  ChallengeWrite challenge;
  challenge.challenge_id = keys::NewChallengeId(
      random_, nobody ? Tag("slot-nobody", channel, request.no_recipient_key())
                      : Tag("slot-user", channel, request.user_id()));
  challenge.user_id = request.user_id();
  challenge.channel = channel;
  challenge.destination = request.destination();
  challenge.no_recipient = nobody;
  challenge.max_attempts = config_.max_attempts;
  challenge.code_ttl = config_.code_ttl;

  IssueParams params;
  params.directory_id = request.directory_id();
  params.now = now;
  params.member = challenge.challenge_id;
  AddCodeBudgets(request, *client_address, params);

  DeliveryJob job;
  if (!nobody) {
    // No code, no message, no job for nobody: its challenge matches no code.
    const std::string code = GenerateCode(random_);
    job.directory_id = request.directory_id();
    job.challenge_id = challenge.challenge_id;
    job.channel = channel;
    job.expire_time = now + config_.code_ttl;
    job.enqueue_time = now;
    Seal(job, request.destination(),
         ComposeMessage(config_.language, channel, code, config_.code_ttl));
    challenge.code_mac_hex = CodeMac(config_.hmac_key, challenge.challenge_id, code);
  }
  params.challenge = std::move(challenge);

  absl::StatusOr<IssueResult> result = store_.Issue(params);
  if (!result.ok()) return result.status();
  if (!result->issued) {
    if (metrics_ != nullptr) {
      metrics_->CodeIssued(ChannelName(channel), RefusalResult(result->refusal));
    }
    return Refused(result->refusal, channel);
  }
  // The job's shard is another slot than the directory's: appended once the challenge exists.
  // A code to nobody makes the same round trip to that shard and writes nothing.
  if (absl::Status s = nobody ? queue_.Reach(request.directory_id())
                              : queue_.Enqueue(request.directory_id(), JobToFields(job)).status();
      !s.ok()) {
    return s;
  }
  if (metrics_ != nullptr) {
    metrics_->CodeIssued(ChannelName(channel), nobody ? "no_recipient" : "issued");
  }

  pb::SendCodeResponse response;
  response.set_challenge_id(params.member);
  *response.mutable_expire_time() = ToProtoTime(now + config_.code_ttl);
  *response.mutable_resend_after() =
      ToProtoTime(std::max(now + config_.cooldown, result->resend_after));
  response.set_masked_destination(job.masked_destination);
  return response;
}

absl::StatusOr<pb::SendNoticeResponse> OtpManager::SendNotice(
    const Caller& /*cluster*/, const pb::SendNoticeRequest& request) {
  if (absl::Status s = CheckSendNoticeRequest(request); !s.ok()) return s;
  const pb::Channel channel = request.channel();
  const std::string kind = NoticeKindName(request.kind());
  const absl::Time now = clock_.Now();

  IssueParams params;
  params.directory_id = request.directory_id();
  params.now = now;
  params.member = NewId(random_, "ntc_");
  // A budget of its own per destination: notices cannot be turned into a way to spam, nor
  // spend a code's budget.
  params.windows.push_back(
      {Budget::kNoticeDestination,
       Tag("notice", channel, DestinationValue(channel, request.destination())),
       config_.notice_destination_hourly_cap, absl::ZeroDuration()});
  absl::StatusOr<IssueResult> result = store_.Issue(params);
  if (!result.ok()) return result.status();
  if (!result->issued) {
    if (metrics_ != nullptr) metrics_->Notice(ChannelName(channel), kind, "refused");
    return Refused(result->refusal, channel);
  }

  DeliveryJob job;
  job.directory_id = request.directory_id();
  job.challenge_id = params.member;
  job.notice = true;
  job.channel = channel;
  job.expire_time = now + kNoticeLifetime;
  job.enqueue_time = now;
  Seal(job, request.destination(), ComposeNotice(config_.language, channel, request.kind()));
  if (absl::Status s = queue_.Enqueue(request.directory_id(), JobToFields(job)).status();
      !s.ok()) {
    return s;
  }
  if (metrics_ != nullptr) metrics_->Notice(ChannelName(channel), kind, "queued");
  return pb::SendNoticeResponse();
}

absl::StatusOr<pb::VerifyCodeResponse> OtpManager::VerifyCode(
    const Caller& /*cluster*/, const pb::VerifyCodeRequest& request) {
  if (absl::Status s = CheckVerifyCodeRequest(request); !s.ok()) return s;
  const std::string& code = request.code();
  absl::StatusOr<VerifyOutcome> outcome =
      store_.Verify(request.directory_id(), request.challenge_id(),
                    CodeMac(config_.hmac_key, request.challenge_id(), code), clock_.Now());
  if (!outcome.ok()) return outcome.status();
  if (metrics_ != nullptr) {
    metrics_->CodeVerified(ChannelName(outcome->channel), ResultName(outcome->result));
  }
  pb::VerifyCodeResponse response;
  response.set_result(outcome->result);
  response.set_attempts_left(outcome->attempts_left);
  if (outcome->result != pb::VERIFY_RESULT_EXPIRED) {
    response.set_user_id(outcome->user_id);
    response.set_channel(outcome->channel);
  }
  return response;
}

absl::StatusOr<pb::ListDeadLettersResponse> OtpManager::ListDeadLetters(
    const Caller& caller, const pb::ListDeadLettersRequest& request) {
  if (absl::Status s = RequirePlatform(caller); !s.ok()) return s;
  if (request.page_size() < 0 || request.page_size() > 1000) {
    return absl::InvalidArgumentError("page_size must be 0 to 1000");
  }
  absl::StatusOr<DeadLetterPage> page =
      queue_.ListDead(request.page_size() == 0 ? 50 : request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  pb::ListDeadLettersResponse response;
  for (const DeadLetter& d : page->letters) {
    pb::DeadLetter* out = response.add_dead_letters();
    out->set_entry_id(d.entry_id);
    out->set_job_id(d.job_id);
    out->set_directory_id(d.directory_id);
    out->set_challenge_id(d.challenge_id);
    out->set_channel(d.channel == "sms"     ? pb::CHANNEL_SMS
                     : d.channel == "email" ? pb::CHANNEL_EMAIL
                                            : pb::CHANNEL_UNSPECIFIED);
    out->set_masked_destination(d.masked_destination);
    out->set_provider(d.provider);
    out->set_reason(d.reason);
    out->set_attempts(d.attempts);
    *out->mutable_time() = ToProtoTime(d.time);
  }
  response.set_next_page_token(page->next_page_token);
  return response;
}

}  // namespace tally::otp
