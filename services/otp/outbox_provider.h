#pragma once

#include <string>

#include "absl/synchronization/mutex.h"
#include "common/util/clock.h"
#include "services/otp/delivery_provider.h"

namespace tally::otp {

// Development provider (DESIGN.md §8): appends one JSON object per message to a file, fields
// channel ("sms"/"email"), destination, text and time (RFC 3339, UTC), plus subject for e-mail.
// Messages never go to the log. Each line is written with one write(2) on an O_APPEND file, so
// several sender processes can share the file.
class OutboxProvider final : public DeliveryProvider {
 public:
  OutboxProvider(std::string path, const Clock& clock);

  const std::string& name() const override { return name_; }
  DeliveryResult Deliver(const OutgoingMessage& message) override;

 private:
  const std::string name_ = "outbox";
  const std::string path_;
  const Clock& clock_;
  absl::Mutex mu_;
};

}  // namespace tally::otp
