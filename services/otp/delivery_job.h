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

// A delivery job as it travels in the stream: a code's, or a notice's (SendNotice). Destination,
// subject and text (with the code) are sealed with AES-256-GCM; the additional data binds the
// ciphertext to the kind of job, the directory, challenge (or notice id), channel and expiry, so
// a job cannot be replayed under another challenge, as a notice, or with a later expiry.
struct DeliveryJob {
  std::string directory_id;
  // The code's challenge; a notice's own id ("ntc_…"), which names no challenge.
  std::string challenge_id;
  // A notice: no code, so no challenge whose replacement would make it pointless.
  bool notice = false;
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  // The code's expiry (the end of a notice's lifetime): never delivered at or after it.
  absl::Time expire_time;
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
