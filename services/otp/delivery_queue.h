#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tally::otp {

using JobFields = std::vector<std::pair<std::string, std::string>>;

// One stream entry: its shard, id and field/value pairs.
struct QueuedJob {
  int shard = 0;
  std::string id;
  JobFields fields;
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

// One page of dead letters of every shard, newest first.
struct DeadLetterPage {
  std::vector<DeadLetter> letters;
  std::string next_page_token;  // empty: no more
};

struct QueueStats {
  int64_t backlog = 0;  // jobs in the delivery streams not yet acknowledged (read or not)
  int64_t pending = 0;  // of those, read by a sender and not yet acknowledged
  int64_t dead = 0;     // entries in the dead-letter streams
};

// The delivery queue: a fixed number of shards, each a stream with a consumer group and a
// dead-letter stream, at-least-once hand-out. A directory's jobs go to one shard; senders read
// them all. Acknowledged and dead-lettered jobs are deleted from their stream, so the streams'
// length is the backlog.
class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  virtual int shards() const = 0;

  // The api side. Appends a job to the shard of `directory_id`; its entry id.
  virtual absl::StatusOr<std::string> Enqueue(absl::string_view directory_id,
                                              const JobFields& fields) = 0;
  // The same round trip to that shard, writing nothing: what a code to nobody does instead of
  // Enqueue, so that it costs what a real send costs.
  virtual absl::Status Reach(absl::string_view directory_id) = 0;

  // The sender side. Creates every shard's consumer group (and stream) unless it exists.
  virtual absl::Status EnsureGroups() = 0;
  // New jobs of `shard` for `consumer`, waiting up to `block` for one (zero: not at all).
  virtual absl::StatusOr<std::vector<QueuedJob>> Read(int shard, absl::string_view consumer,
                                                      int count, absl::Duration block) = 0;
  // Whether ReadEvery can wait on every shard in one blocking read: on one Redis node it can; a
  // Redis Cluster spreads the shards over its nodes, and a blocking read serves one of them.
  virtual bool ReadsEveryShard() const = 0;
  // New jobs of every shard for `consumer` (up to `count` per shard), waiting up to `block` for
  // one on any of them. Only where ReadsEveryShard().
  virtual absl::StatusOr<std::vector<QueuedJob>> ReadEvery(absl::string_view consumer, int count,
                                                           absl::Duration block) = 0;
  // Jobs of `shard` another consumer read and left unacknowledged for at least `min_idle` (it
  // crashed), now owned by `consumer`.
  virtual absl::StatusOr<std::vector<QueuedJob>> Claim(int shard, absl::string_view consumer,
                                                       absl::Duration min_idle, int count) = 0;
  // If `consumer` still owns the job: resets its idle time (so nobody reclaims it while we work
  // on it) and returns how often it has been handed out. 0 when it is no longer ours.
  virtual absl::StatusOr<int> Touch(const QueuedJob& job, absl::string_view consumer) = 0;
  // Done: acknowledge and delete.
  virtual absl::Status Ack(const QueuedJob& job) = 0;
  // Give up: append `letter` to the shard's dead-letter stream, acknowledge and delete,
  // atomically.
  virtual absl::Status Bury(const QueuedJob& job, const DeadLetter& letter) = 0;
  // Whether the job's challenge can still be verified (not replaced, used or dead).
  virtual absl::StatusOr<bool> ChallengeLive(absl::string_view directory_id,
                                             absl::string_view challenge_id) = 0;
  // Summed over every shard.
  virtual absl::StatusOr<QueueStats> Stats() = 0;
  // Removes consumers (names of sender threads that are gone) with nothing pending that have
  // not read for `idle`, in every shard; returns how many. Live workers read every few seconds.
  virtual absl::StatusOr<int> PruneConsumers(absl::Duration idle) = 0;
  // Up to `count` dead letters of every shard, newest first, from `page_token` (empty: the
  // newest). INVALID_ARGUMENT for a token this queue did not return.
  virtual absl::StatusOr<DeadLetterPage> ListDead(int count, absl::string_view page_token) = 0;
};

}  // namespace tally::otp
