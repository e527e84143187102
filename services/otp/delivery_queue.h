#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tally::otp {

// One stream entry: its id and field/value pairs.
struct QueuedJob {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
};

// What is left of a job that could not be delivered (no code, no text, no full destination).
struct DeadLetter {
  std::string entry_id;  // id in the dead-letter stream (empty when writing)
  std::string job_id;    // id the job had in the delivery stream
  std::string directory_id;
  std::string challenge_id;
  std::string channel;             // "sms" / "email"
  std::string masked_destination;
  std::string provider;
  std::string reason;
  int attempts = 0;
  absl::Time time;
};

struct QueueStats {
  int64_t backlog = 0;  // jobs in the delivery stream not yet acknowledged (read or not)
  int64_t pending = 0;  // of those, read by a sender and not yet acknowledged
  int64_t dead = 0;     // entries in the dead-letter stream
};

// The delivery stream seen by senders: a consumer group with at-least-once hand-out.
// Acknowledged and dead-lettered jobs are deleted from the stream, so its length is the backlog.
class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  // Creates the consumer group (and the stream) unless it exists.
  virtual absl::Status EnsureGroup() = 0;
  // New jobs for `consumer`, waiting up to `block` for one.
  virtual absl::StatusOr<std::vector<QueuedJob>> Read(absl::string_view consumer, int count,
                                                      absl::Duration block) = 0;
  // Jobs another consumer read and left unacknowledged for at least `min_idle` (it crashed),
  // now owned by `consumer`.
  virtual absl::StatusOr<std::vector<QueuedJob>> Claim(absl::string_view consumer,
                                                       absl::Duration min_idle, int count) = 0;
  // If `consumer` still owns the job: resets its idle time (so nobody reclaims it while we work
  // on it) and returns how often it has been handed out. 0 when it is no longer ours.
  virtual absl::StatusOr<int> Touch(absl::string_view id, absl::string_view consumer) = 0;
  // Done: acknowledge and delete.
  virtual absl::Status Ack(absl::string_view id) = 0;
  // Give up: append `letter` to the dead-letter stream, acknowledge and delete, atomically.
  virtual absl::Status Bury(absl::string_view id, const DeadLetter& letter) = 0;
  // Whether the job's challenge can still be verified (not replaced, used or dead).
  virtual absl::StatusOr<bool> ChallengeLive(absl::string_view directory_id,
                                             absl::string_view challenge_id) = 0;
  virtual absl::StatusOr<QueueStats> Stats() = 0;
  // Removes consumers (names of sender threads that are gone) with nothing pending that have
  // not read for `idle`; returns how many. Live workers read every few seconds.
  virtual absl::StatusOr<int> PruneConsumers(absl::Duration idle) = 0;
  // The newest `count` dead letters, newest first.
  virtual absl::StatusOr<std::vector<DeadLetter>> ListDead(int count) = 0;
};

}  // namespace tally::otp
