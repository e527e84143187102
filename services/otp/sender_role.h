#pragma once

#include <memory>
#include <string>

#include "common/redis/redis_client.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/otp/curl_providers.h"
#include "services/otp/delivery_provider.h"
#include "services/otp/otp_metrics.h"
#include "services/otp/redis_delivery_queue.h"
#include "services/otp/sender.h"
#include "spdlog/logger.h"

namespace tally::otp {

// One channel's delivery provider as configured (--otp_sms_provider, --otp_email_provider).
struct ProviderConfig {
  enum class Kind { kOutbox, kSmtp, kHttp };
  Kind kind = Kind::kOutbox;
  std::string outbox_file;  // --otp_outbox_file (used by kOutbox)
  SmtpOptions smtp;         // kSmtp: checked by ValidateSmtpOptions
  HttpSmsOptions http;      // kHttp: checked by ValidateHttpSmsOptions
};

// The provider `config` describes.
std::unique_ptr<DeliveryProvider> MakeProvider(const ProviderConfig& config, const Clock& clock,
                                               RandomSource& random);

// What tally-otp's sender role runs with (its --otp_* sender flags, checked).
struct SenderRoleConfig {
  SenderOptions options;
  RedisOptions redis;  // the service's Redis for blocking reads: longer timeout, a pool per worker
  ProviderConfig sms;
  ProviderConfig email;
};

// The `sender` role of tally-otp: both channels' providers, a delivery queue on a Redis pool of
// its own and the Sender's workers.
class SenderRole {
 public:
  // `clock`, `random` and `metrics` must outlive the role.
  SenderRole(const SenderRoleConfig& config, const QueueNames& queue, std::string job_key,
             const Clock& clock, RandomSource& random, OtpMetrics* metrics);

  // Starts the workers (and says so in `logger`).
  void Start(spdlog::logger& logger);
  // Workers finish their current attempt; unfinished jobs stay pending for another sender.
  void Stop() { sender_.Stop(); }

 private:
  std::unique_ptr<DeliveryProvider> sms_;
  std::unique_ptr<DeliveryProvider> email_;
  const std::string outbox_file_;
  const int workers_;
  const QueueNames names_;
  RedisDeliveryQueue queue_;
  Sender sender_;
};

}  // namespace tally::otp
