#include "services/otp/sender_role.h"

#include <map>

#include "services/otp/outbox_provider.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

std::unique_ptr<DeliveryProvider> MakeProvider(const ProviderConfig& config, const Clock& clock,
                                               RandomSource& random) {
  switch (config.kind) {
    case ProviderConfig::Kind::kSmtp:
      return std::make_unique<SmtpProvider>(config.smtp, clock, random);
    case ProviderConfig::Kind::kHttp:
      return std::make_unique<HttpSmsProvider>(config.http);
    case ProviderConfig::Kind::kOutbox:
      break;
  }
  return std::make_unique<OutboxProvider>(config.outbox_file, clock);
}

SenderRole::SenderRole(const SenderRoleConfig& config, const QueueNames& queue,
                       std::string job_key, const Clock& clock, RandomSource& random,
                       OtpMetrics* metrics)
    : sms_(MakeProvider(config.sms, clock, random)),
      email_(MakeProvider(config.email, clock, random)),
      outbox_file_(config.sms.outbox_file),
      workers_(config.options.workers),
      names_(queue),
      queue_(std::make_shared<RedisClient>(config.redis), queue),
      sender_(queue_,
              std::map<int, DeliveryProvider*>{
                  {static_cast<int>(v1::CHANNEL_SMS), sms_.get()},
                  {static_cast<int>(v1::CHANNEL_EMAIL), email_.get()}},
              std::move(job_key), clock, random, config.options, metrics) {}

void SenderRole::Start(spdlog::logger& logger) {
  if (sms_->name() == "outbox" || email_->name() == "outbox") {
    logger.warn("outbox provider: codes are written to {} (development only)", outbox_file_);
  }
  sender_.Start();
  logger.info("sender: {} workers on {} shards of queue {}, group {} (sms: {}, email: {})",
              workers_, names_.shards, names_.queue, names_.group, sms_->name(), email_->name());
}

}  // namespace tally::otp
