#include "services/otp/otp_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/proto_time.h"
#include "common/util/text.h"
#include "services/otp/delivery_job.h"
#include "services/otp/destination.h"
#include "services/otp/otp_crypto.h"
#include "services/otp/request_checks.h"

namespace tally::otp {
namespace {

std::string Seconds(absl::Duration d) {
  // Rounded up: waiting the stated time must be enough.
  return absl::StrCat(absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))), "s");
}

const char* ResultName(pb::VerifyResult result) {
  switch (result) {
    case pb::VERIFY_RESULT_ACCEPTED: return "accepted";
    case pb::VERIFY_RESULT_WRONG_CODE: return "wrong_code";
    case pb::VERIFY_RESULT_EXPIRED: return "expired";
    case pb::VERIFY_RESULT_TOO_MANY_ATTEMPTS: return "too_many_attempts";
    default: return "unspecified";
  }
}

}  // namespace

OtpManager::OtpManager(OtpStore& store, DeliveryQueue* queue, const Clock& clock,
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

absl::StatusOr<pb::SendCodeResponse> OtpManager::SendCode(const Caller& /*cluster*/,
                                                          const pb::SendCodeRequest& request) {
  if (absl::Status s = CheckSendCodeRequest(request); !s.ok()) return s;
  const pb::Channel channel = request.channel();
  const absl::Time now = clock_.Now();
  const std::string challenge_id = NewId(random_, "otp_");

  IssueParams params;
  params.directory_id = request.directory_id();
  params.challenge_id = challenge_id;
  params.channel = channel;
  params.max_attempts = config_.max_attempts;
  params.now = now;
  params.code_ttl = config_.code_ttl;
  params.cooldown = config_.cooldown;
  params.destination_hourly_cap = config_.destination_hourly_cap;
  params.directory_daily_cap = config_.directory_daily_cap;
  const absl::TimeZone utc = absl::UTCTimeZone();
  params.day = absl::FormatTime("%Y%m%d", now, utc);
  const absl::CivilDay today = absl::ToCivilDay(now, utc);
  params.day_end = absl::FromCivil(today + 1, utc);

  std::string masked_destination;
  if (request.no_recipient()) {
    // No code, no message, no job: the store keeps a challenge no code matches.
    params.no_recipient = true;
    params.destination_tag = ThrottleTag("no-recipient", channel, request.no_recipient_key());
  } else {
    const std::string code = GenerateCode(random_);
    const MessageText message =
        ComposeMessage(config_.language, channel, code, config_.code_ttl);
    DeliveryJob job;
    job.directory_id = request.directory_id();
    job.challenge_id = challenge_id;
    job.channel = channel;
    job.expire_time = now + config_.code_ttl;
    job.enqueue_time = now;
    job.masked_destination = MaskDestination(channel, request.destination());
    OutgoingMessage outgoing;
    outgoing.channel = channel;
    outgoing.destination = request.destination();
    outgoing.subject = message.subject;
    outgoing.text = message.text;
    outgoing.challenge_id = challenge_id;
    job.sealed = SealMessage(config_.job_key, job, outgoing, random_);
    masked_destination = job.masked_destination;

    params.user_id = request.user_id();
    params.destination = request.destination();
    // E-mail addresses are matched case-insensitively for the throttles.
    params.destination_tag =
        ThrottleTag("destination", channel,
                    channel == pb::CHANNEL_EMAIL ? absl::AsciiStrToLower(request.destination())
                                                 : request.destination());
    params.code_mac_hex = CodeMac(config_.hmac_key, challenge_id, code);
    params.job_fields = JobToFields(job);
  }

  absl::StatusOr<IssueResult> result = store_.Issue(params);
  if (!result.ok()) return result.status();
  if (!result->issued) {
    if (metrics_ != nullptr) metrics_->CodeIssued(ChannelName(channel), result->refusal);
    std::string what = "too many codes for this directory today";
    if (result->refusal == "cooldown") {
      what = "a code was just sent to this destination";
    } else if (result->refusal == "destination_cap") {
      what = "too many codes sent to this destination in the last hour";
    }
    return absl::ResourceExhaustedError(
        absl::StrCat(what, "; retry in ", Seconds(result->retry_after)));
  }
  if (metrics_ != nullptr) {
    metrics_->CodeIssued(ChannelName(channel), params.no_recipient ? "no_recipient" : "issued");
  }

  pb::SendCodeResponse response;
  response.set_challenge_id(challenge_id);
  *response.mutable_expire_time() = ToProtoTime(now + config_.code_ttl);
  *response.mutable_resend_after() = ToProtoTime(std::max(now + config_.cooldown, result->resend_after));
  response.set_masked_destination(masked_destination);
  return response;
}

std::string OtpManager::ThrottleTag(absl::string_view kind, pb::Channel channel,
                                    absl::string_view value) const {
  return HexEncode(HmacSha256(config_.hmac_key,
                              absl::StrCat(kind, "|", ChannelName(channel), "|", value)))
      .substr(0, 32);
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
  if (queue_ == nullptr) return absl::UnimplementedError("no delivery queue configured");
  absl::StatusOr<std::vector<DeadLetter>> letters =
      queue_->ListDead(request.page_size() == 0 ? 50 : request.page_size());
  if (!letters.ok()) return letters.status();
  pb::ListDeadLettersResponse response;
  for (const DeadLetter& d : *letters) {
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
  return response;
}

}  // namespace tally::otp
