#include "services/otp/sender.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/logging/logging.h"
#include "services/otp/delivery_job.h"
#include "services/otp/destination.h"

namespace tally::otp {

Sender::Sender(DeliveryQueue& queue, std::map<int, DeliveryProvider*> providers,
               std::string job_key, const Clock& clock, RandomSource& random,
               SenderOptions options, OtpMetrics* metrics,
               std::function<bool(absl::Duration)> sleep)
    : queue_(queue),
      providers_(std::move(providers)),
      job_key_(std::move(job_key)),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      metrics_(metrics),
      sleep_(std::move(sleep)),
      logger_(GetLogger("sender")) {
  if (!sleep_) {
    sleep_ = [this](absl::Duration d) { return !stop_.WaitForNotificationWithTimeout(d); };
  }
  uint8_t offset = 0;
  random_.Fill(absl::MakeSpan(&offset, 1));
  home_offset_ = offset;
}

Sender::~Sender() { Stop(); }

void Sender::Start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { Worker(i); });
  threads_.emplace_back([this] { StatsLoop(); });
}

void Sender::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

absl::Duration Sender::Backoff(int attempt) {
  // Exponential, capped, with "equal jitter": half fixed, half random, so senders that failed
  // together do not all retry in the same instant.
  absl::Duration base = options_.initial_backoff;
  for (int i = 1; i < attempt && base < options_.max_backoff; ++i) base *= 2;
  base = std::min(base, options_.max_backoff);
  std::array<uint8_t, 4> bytes;
  random_.Fill(absl::MakeSpan(bytes));
  const double fraction =
      static_cast<double>((uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                          (uint32_t{bytes[2]} << 8) | bytes[3]) /
      4294967296.0;
  return base / 2 + (base / 2) * fraction;
}

void Sender::Bury(const QueuedJob& job, DeadLetter letter, absl::string_view metric_reason,
                  absl::string_view provider) {
  letter.time = clock_.Now();
  letter.provider = std::string(provider);
  if (absl::Status s = queue_.Bury(job, letter); !s.ok()) {
    // Still pending: another sender reclaims it later and decides again.
    logger_->warn("job {}: cannot move to the dead letters: {}", job.id, s);
    return;
  }
  logger_->warn("job {} (challenge {}, {} {}) dead-lettered: {}", job.id, letter.challenge_id,
                letter.channel, letter.masked_destination, letter.reason);
  if (metrics_ != nullptr) {
    metrics_->DeadLetter(metric_reason);
    metrics_->Delivery(provider.empty() ? "none" : provider, "dead");
  }
}

void Sender::Process(const QueuedJob& queued, const std::string& consumer) {
  absl::StatusOr<DeliveryJob> job = JobFromFields(queued.fields);
  if (!job.ok()) {
    DeadLetter letter;
    letter.reason = "malformed job";
    Bury(queued, letter, "malformed", "");
    return;
  }
  DeadLetter letter;
  letter.directory_id = job->directory_id;
  letter.challenge_id = job->challenge_id;
  letter.channel = ChannelName(job->channel);
  letter.masked_destination = job->masked_destination;
  auto it = providers_.find(static_cast<int>(job->channel));
  if (it == providers_.end() || it->second == nullptr) {
    letter.reason = absl::StrCat("no provider for channel ", letter.channel);
    Bury(queued, letter, "permanent", "");
    return;
  }
  DeliveryProvider& provider = *it->second;
  std::optional<OutgoingMessage> message;
  for (int attempt = 1;; ++attempt) {
    letter.attempts = attempt - 1;
    if (clock_.Now() >= job->expire_time) {
      letter.reason = attempt == 1 ? "expired before delivery"
                                   : absl::StrCat("expired before delivery; last error: ",
                                                  letter.reason);
      Bury(queued, letter, "expired", provider.name());
      return;
    }
    absl::StatusOr<int> handouts = queue_.Touch(queued, consumer);
    if (!handouts.ok()) {
      logger_->warn("job {}: cannot renew our claim, leaving it to be reclaimed: {}", queued.id,
                    handouts.status());
      return;
    }
    if (*handouts == 0) {
      logger_->info("job {} was taken over by another sender", queued.id);
      return;
    }
    if (attempt == 1) {
      if (*handouts > options_.max_handouts) {
        letter.reason = absl::StrCat("handed out ", *handouts, " times without finishing");
        Bury(queued, letter, "reclaimed_too_often", provider.name());
        return;
      }
      // A notice names no challenge; a code whose challenge was replaced by a resend, used or
      // is dead can no longer be accepted, so sending it would only cost money.
      absl::StatusOr<bool> live =
          job->notice ? true : queue_.ChallengeLive(job->directory_id, job->challenge_id);
      if (live.ok() && !*live) {
        if (queue_.Ack(queued).ok() && metrics_ != nullptr) {
          metrics_->Delivery(provider.name(), "skipped");
        }
        logger_->info("job {}: challenge {} no longer valid, not sent", queued.id,
                      job->challenge_id);
        return;
      }
      absl::StatusOr<OutgoingMessage> opened = OpenMessage(job_key_, *job);
      if (!opened.ok()) {
        letter.reason = "cannot decrypt the message (wrong --otp_encryption_key?)";
        Bury(queued, letter, "undecryptable", provider.name());
        return;
      }
      message = *std::move(opened);
    }
    const DeliveryResult result = provider.Deliver(*message);
    letter.attempts = attempt;
    switch (result.outcome) {
      case DeliveryResult::Outcome::kDelivered: {
        if (metrics_ != nullptr) {
          metrics_->Delivery(provider.name(), "delivered");
          metrics_->DeliveryLatency(provider.name(),
                                    absl::ToDoubleSeconds(clock_.Now() - job->enqueue_time));
        }
        if (absl::Status s = queue_.Ack(queued); !s.ok()) {
          logger_->warn("job {} delivered but not acknowledged (may be sent again): {}",
                        queued.id, s);
        }
        logger_->info("job {}: {} {} {} delivered to {} by {}", queued.id, letter.channel,
                      job->notice ? "notice" : "code for challenge", job->challenge_id,
                      job->masked_destination, provider.name());
        return;
      }
      case DeliveryResult::Outcome::kPermanent:
        if (metrics_ != nullptr) metrics_->Delivery(provider.name(), "permanent");
        letter.reason = absl::StrCat("permanent: ", result.reason);
        Bury(queued, letter, "permanent", provider.name());
        return;
      case DeliveryResult::Outcome::kRetryable:
        break;
    }
    if (metrics_ != nullptr) metrics_->Delivery(provider.name(), "retry");
    logger_->info("job {}: attempt {} failed: {}", queued.id, attempt, result.reason);
    if (attempt >= options_.max_attempts) {
      letter.reason = absl::StrCat("retries exhausted: ", result.reason);
      Bury(queued, letter, "retries_exhausted", provider.name());
      return;
    }
    const absl::Duration wait = Backoff(attempt);
    if (clock_.Now() + wait >= job->expire_time) {
      letter.reason = absl::StrCat("expired before delivery; last error: ", result.reason);
      Bury(queued, letter, "expired", provider.name());
      return;
    }
    letter.reason = result.reason;
    // Stopping: the job stays pending and another sender finishes it.
    if (!sleep_(wait)) return;
  }
}

absl::Status Sender::RunOnce(const std::string& consumer, WorkerState* state) {
  const int shards = queue_.shards();
  const absl::Time now = clock_.Now();
  if (now - state->last_claim >= options_.claim_interval) {
    // One stale job at a time, from any shard: claimed jobs wait idle until processed, and a
    // batch would let them go stale again while the first is retried.
    for (int i = 0; i < shards; ++i) {
      const int shard = (state->next + i) % shards;
      absl::StatusOr<std::vector<QueuedJob>> claimed =
          queue_.Claim(shard, consumer, options_.claim_idle, 1);
      if (!claimed.ok()) return claimed.status();
      if (!claimed->empty()) {
        for (const QueuedJob& job : *claimed) {
          logger_->info("job {}: reclaimed from a sender that stopped working on it", job.id);
          Process(job, consumer);
        }
        state->next = shard;
        return absl::OkStatus();  // look for more stale jobs next round
      }
    }
    state->last_claim = now;
  }
  if (state->sweep) {
    // Busy: take what any shard has, without waiting, starting where work was last found.
    for (int i = 0; i < shards; ++i) {
      const int shard = (state->next + i) % shards;
      absl::StatusOr<std::vector<QueuedJob>> jobs =
          queue_.Read(shard, consumer, 1, absl::ZeroDuration());
      if (!jobs.ok()) return jobs.status();
      if (!jobs->empty()) {
        state->next = shard;
        for (const QueuedJob& job : *jobs) Process(job, consumer);
        return absl::OkStatus();
      }
    }
    state->sweep = false;
  }
  // Idle: wait on every shard where one read can (one Redis node), so a new job wakes whichever
  // worker is free: one busy directory fills one shard, and its home worker alone would deliver
  // its messages one after the other while the others wait on empty shards. A blocking read
  // serves one shard of a Redis Cluster: there wait on the home shard, then look at every shard
  // again, so shards without a worker of their own wait one read_block at most.
  absl::StatusOr<std::vector<QueuedJob>> jobs =
      queue_.ReadsEveryShard() ? queue_.ReadEvery(consumer, 1, options_.read_block)
                               : queue_.Read(state->home, consumer, 1, options_.read_block);
  if (!jobs.ok()) return jobs.status();
  state->sweep = true;
  state->next = state->home;
  for (const QueuedJob& job : *jobs) Process(job, consumer);
  return absl::OkStatus();
}

void Sender::Worker(int index) {
  const std::string consumer = absl::StrCat(options_.consumer_prefix, "-", index);
  WorkerState state;
  state.home = (home_offset_ + index) % std::max(1, queue_.shards());
  bool groups_ready = false;
  while (!stop_.HasBeenNotified()) {
    absl::Status s = groups_ready ? absl::OkStatus() : queue_.EnsureGroups();
    if (s.ok()) {
      groups_ready = true;
      s = RunOnce(consumer, &state);
    }
    if (!s.ok()) {
      logger_->warn("worker {}: {}", consumer, s);
      stop_.WaitForNotificationWithTimeout(absl::Seconds(1));
    }
  }
}

void Sender::UpdateStats() {
  absl::StatusOr<QueueStats> stats = queue_.Stats();
  if (stats.ok() && metrics_ != nullptr) {
    metrics_->SetQueue(stats->backlog, stats->pending, stats->dead);
  }
  absl::StatusOr<int> pruned = queue_.PruneConsumers(options_.prune_consumers_after);
  if (pruned.ok() && *pruned > 0) logger_->info("removed {} consumers of exited senders", *pruned);
}

void Sender::StatsLoop() {
  do {
    UpdateStats();
  } while (!stop_.WaitForNotificationWithTimeout(options_.stats_interval));
}

}  // namespace tally::otp
