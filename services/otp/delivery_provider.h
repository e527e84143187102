#pragma once

#include <string>

#include "services/otp/delivery_job.h"

namespace tally::otp {

struct DeliveryResult {
  enum class Outcome { kDelivered, kRetryable, kPermanent };
  Outcome outcome = Outcome::kDelivered;
  // Why it failed, safe to log and to keep in a dead letter: never the text or the code.
  std::string reason;

  static DeliveryResult Delivered() { return {}; }
  static DeliveryResult Retryable(std::string why) { return {Outcome::kRetryable, std::move(why)}; }
  static DeliveryResult Permanent(std::string why) { return {Outcome::kPermanent, std::move(why)}; }
};

// Hands one message to the outside world (a file, an SMTP server, an SMS gateway). Must be
// thread-safe: every sender worker shares one instance per channel.
class DeliveryProvider {
 public:
  virtual ~DeliveryProvider() = default;
  // "outbox", "smtp", "http": the provider label of the metrics.
  virtual const std::string& name() const = 0;
  virtual DeliveryResult Deliver(const OutgoingMessage& message) = 0;
};

}  // namespace tally::otp
