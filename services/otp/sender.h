#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/util/clock.h"
#include "common/util/random.h"
#include "services/otp/delivery_provider.h"
#include "services/otp/delivery_queue.h"
#include "services/otp/otp_metrics.h"
#include "spdlog/logger.h"

namespace tally::otp {

struct SenderOptions {
  // Consumer names are "<consumer_prefix>-<worker>"; the prefix must be unique per process
  // (host name and pid), so a restarted process never inherits a crashed one's name.
  std::string consumer_prefix;
  int workers = 4;
  absl::Duration read_block = absl::Seconds(2);
  // A job read by a sender and untouched this long is taken over by another (crash recovery).
  // Must exceed the provider timeout plus the longest backoff: a live sender touches its job
  // before every attempt.
  absl::Duration claim_idle = absl::Seconds(60);
  absl::Duration claim_interval = absl::Seconds(5);
  int max_attempts = 5;  // delivery attempts per hand-out
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  // A job handed out this often (its senders kept dying on it) is buried instead.
  int max_handouts = 5;
  absl::Duration stats_interval = absl::Seconds(5);
  // Consumers of exited processes with nothing pending are removed after this long.
  absl::Duration prune_consumers_after = absl::Hours(1);
};

// The `sender` role: worker threads that take delivery jobs from the consumer group of every
// shard of the delivery queue and hand them to the channel's provider.
//
// Shards: on one Redis node an idle worker blocks on every shard at once, so every idle worker
// waits for every job. On a Redis Cluster (a blocking read serves one shard) each worker has a
// home shard (spread over the shards from a random offset per process, so several processes
// cover them all) and blocks on it while idle. After every read a worker sweeps all shards
// without blocking, and keeps sweeping while it finds work. A shard no worker calls home is thus
// served within one read_block; with at least as many workers as shards, every shard has a
// worker waiting on it.
//
// Retries: a job that failed with a retryable error stays pending (unacknowledged) with the
// worker that holds it, which waits an exponential backoff with jitter and tries again; before
// each attempt it "touches" the job (resets its idle time), so other senders leave it alone
// while this one is alive, and take it over with XAUTOCLAIM once it has been idle for
// claim_idle (its sender crashed or was killed). Jobs are never delivered at or after the
// code's expiry. Permanent failures, exhausted retries and expiry go to the dead-letter stream.
// Delivery is at-least-once: a sender that dies after the provider accepted a message but before
// the acknowledgement reaches Redis causes one duplicate.
class Sender {
 public:
  // `providers`: one per channel (not owned). `sleep` waits (false: stop now); defaults to a
  // wait that Stop() interrupts. Tests pass one that advances a fake clock.
  Sender(DeliveryQueue& queue, std::map<int, DeliveryProvider*> providers, std::string job_key,
         const Clock& clock, RandomSource& random, SenderOptions options, OtpMetrics* metrics,
         std::function<bool(absl::Duration)> sleep = nullptr);
  ~Sender();

  void Start();
  // Stops reading; workers finish their current attempt and leave unfinished jobs pending.
  void Stop();

  // Where a worker is in its rounds.
  struct WorkerState {
    int home = 0;  // the shard it blocks on while idle (Redis Cluster)
    absl::Time last_claim = absl::InfinitePast();
    bool sweep = false;  // read every shard without blocking first
    int next = 0;        // the shard where work was last found
  };

  // One job from hand-out to its end (acknowledged, buried or left for another sender).
  void Process(const QueuedJob& job, const std::string& consumer);
  // One round of a worker: reclaim a stale job when due, else take a new one (sweeping every
  // shard when busy, blocking on every shard or the home shard when idle) and process it.
  absl::Status RunOnce(const std::string& consumer, WorkerState* state);
  // Refreshes the queue gauges and removes long-gone consumers.
  void UpdateStats();

 private:
  void Worker(int index);
  void StatsLoop();
  absl::Duration Backoff(int attempt);
  void Bury(const QueuedJob& job, DeadLetter letter, absl::string_view metric_reason,
            absl::string_view provider);

  DeliveryQueue& queue_;
  std::map<int, DeliveryProvider*> providers_;
  const std::string job_key_;
  const Clock& clock_;
  RandomSource& random_;
  const SenderOptions options_;
  OtpMetrics* metrics_;
  std::function<bool(absl::Duration)> sleep_;
  std::shared_ptr<spdlog::logger> logger_;
  int home_offset_ = 0;
  absl::Notification stop_;
  std::vector<std::thread> threads_;
};

}  // namespace tally::otp
