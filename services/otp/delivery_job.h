#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/util/random.h"
#include "tally/otp/v1/otp.pb.h"

namespace tally::otp {

namespace pb = ::tally::otp::v1;

// What a sender hands to a provider.
struct OutgoingMessage {
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  std::string destination;
  std::string subject;  // e-mail only
  std::string text;
  std::string challenge_id;  // for Message-ID and logs; not secret
};

// A delivery job as it travels in the stream. Destination, subject and text (with the code) are
// sealed with AES-256-GCM; the additional data binds the ciphertext to the directory, challenge,
// channel and expiry, so a job cannot be replayed under another challenge or with a later expiry.
struct DeliveryJob {
  std::string directory_id;
  std::string challenge_id;
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  absl::Time expire_time;   // the code's expiry: never delivered at or after it
  absl::Time enqueue_time;  // for the delivery latency metric
  std::string masked_destination;
  std::string sealed;       // nonce ‖ ciphertext ‖ tag
};

// Stream fields of a job, and back (INVALID_ARGUMENT for a malformed entry).
std::vector<std::pair<std::string, std::string>> JobToFields(const DeliveryJob& job);
absl::StatusOr<DeliveryJob> JobFromFields(
    const std::vector<std::pair<std::string, std::string>>& fields);

// Seals / opens the message of a job with the 32-byte job key.
std::string SealMessage(absl::string_view key, const DeliveryJob& job,
                        const OutgoingMessage& message, RandomSource& random);
absl::StatusOr<OutgoingMessage> OpenMessage(absl::string_view key, const DeliveryJob& job);

}  // namespace tally::otp
