#include "services/otp/delivery_job.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/util/text.h"
#include "nlohmann/json.hpp"
#include "services/otp/otp_crypto.h"

namespace tally::otp {
namespace {

constexpr char kVersion[] = "1";
constexpr char kNoticeType[] = "notice";

std::string Aad(const DeliveryJob& job) {
  // Codes keep the label they always had (jobs in flight stay readable across an upgrade).
  return absl::StrCat(job.notice ? "tally-otp-notice-v1|" : "tally-otp-job-v1|",
                      job.directory_id, "|", job.challenge_id, "|", static_cast<int>(job.channel),
                      "|", absl::ToUnixMillis(job.expire_time));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> JobToFields(const DeliveryJob& job) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"v", kVersion},
      {"directory", job.directory_id},
      {"challenge", job.challenge_id},
      {"channel", absl::StrCat(static_cast<int>(job.channel))},
      {"expire_ms", absl::StrCat(absl::ToUnixMillis(job.expire_time))},
      {"enqueue_ms", absl::StrCat(absl::ToUnixMillis(job.enqueue_time))},
      {"masked", job.masked_destination},
      {"sealed", Base64UrlEncode(job.sealed)}};
  if (job.notice) fields.emplace_back("type", kNoticeType);
  return fields;
}

absl::StatusOr<DeliveryJob> JobFromFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  DeliveryJob job;
  std::string version, sealed, type;
  int64_t expire_ms = -1, enqueue_ms = -1;
  int channel = 0;
  for (const auto& [field, value] : fields) {
    if (field == "v") version = value;
    else if (field == "directory") job.directory_id = value;
    else if (field == "challenge") job.challenge_id = value;
    else if (field == "channel" && !absl::SimpleAtoi(value, &channel)) channel = 0;
    else if (field == "expire_ms" && !absl::SimpleAtoi(value, &expire_ms)) expire_ms = -1;
    else if (field == "enqueue_ms" && !absl::SimpleAtoi(value, &enqueue_ms)) enqueue_ms = -1;
    else if (field == "masked") job.masked_destination = value;
    else if (field == "sealed") sealed = value;
    else if (field == "type") type = value;
  }
  if (version != kVersion || !IsValidId(job.directory_id) || !IsValidId(job.challenge_id) ||
      !pb::Channel_IsValid(channel) || channel == pb::CHANNEL_UNSPECIFIED || expire_ms < 0 ||
      enqueue_ms < 0 || sealed.empty() || !Base64UrlDecode(sealed, &job.sealed) ||
      (!type.empty() && type != kNoticeType)) {
    return absl::InvalidArgumentError("malformed delivery job");
  }
  job.channel = static_cast<pb::Channel>(channel);
  job.notice = type == kNoticeType;
  job.expire_time = absl::FromUnixMillis(expire_ms);
  job.enqueue_time = absl::FromUnixMillis(enqueue_ms);
  return job;
}

std::string SealMessage(absl::string_view key, const DeliveryJob& job,
                        const OutgoingMessage& message, RandomSource& random) {
  const std::string plaintext = nlohmann::json{{"destination", message.destination},
                                               {"subject", message.subject},
                                               {"text", message.text}}
                                    .dump();
  return SealAesGcm(key, plaintext, Aad(job), random);
}

absl::StatusOr<OutgoingMessage> OpenMessage(absl::string_view key, const DeliveryJob& job) {
  absl::StatusOr<std::string> plaintext = OpenAesGcm(key, job.sealed, Aad(job));
  if (!plaintext.ok()) return plaintext.status();
  nlohmann::json j = nlohmann::json::parse(*plaintext, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["destination"].is_string() || !j["text"].is_string() ||
      !j["subject"].is_string()) {
    return absl::DataLossError("sealed message has an unexpected shape");
  }
  OutgoingMessage m;
  m.channel = job.channel;
  m.challenge_id = job.challenge_id;
  m.destination = j["destination"].get<std::string>();
  m.subject = j["subject"].get<std::string>();
  m.text = j["text"].get<std::string>();
  return m;
}

}  // namespace tally::otp
