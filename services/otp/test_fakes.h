#pragma once

// Fakes shared by the OTP unit tests.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/util/random.h"
#include "services/otp/delivery_queue.h"
#include "services/otp/otp_keys.h"

namespace tally::otp::testing {

// Plays queued bytes first, then a counter, so ids differ and tests can force values.
class FakeRandom final : public RandomSource {
 public:
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      if (!queued_.empty()) {
        b = queued_.front();
        queued_.pop_front();
      } else {
        b = static_cast<uint8_t>(counter_++ * 37 + 11);
      }
    }
  }
  void Queue(std::initializer_list<uint8_t> bytes) { queued_.insert(queued_.end(), bytes); }

 private:
  std::deque<uint8_t> queued_;
  uint32_t counter_ = 0;
};

// The delivery queue in memory, both sides: what the api appends (Enqueue, Reach) and what
// senders are handed (incoming jobs per shard, stale jobs to claim), with the ownership, hand-out
// counts, acknowledgements and dead letters a Redis consumer group keeps.
class FakeDeliveryQueue final : public DeliveryQueue {
 public:
  explicit FakeDeliveryQueue(int shards = 1) : shards_(shards) {}

  int shards() const override { return shards_; }
  absl::StatusOr<std::string> Enqueue(absl::string_view directory_id,
                                      const JobFields& fields) override {
    if (!status.ok()) return status;
    QueuedJob job{keys::ShardOf(directory_id, shards_), absl::StrCat(++next_id_, "-0"), fields};
    incoming.push_back(job);
    enqueued.push_back(job);
    return job.id;
  }
  absl::Status Reach(absl::string_view directory_id) override {
    reached.push_back(std::string(directory_id));
    return status;
  }
  absl::Status EnsureGroups() override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<QueuedJob>> Read(int shard, absl::string_view consumer, int count,
                                              absl::Duration block) override {
    reads.push_back({shard, block});
    std::vector<QueuedJob> out;
    for (auto it = incoming.begin();
         it != incoming.end() && static_cast<int>(out.size()) < count;) {
      if (it->shard != shard) {
        ++it;
        continue;
      }
      it = HandOut(it, consumer, &out);
    }
    return out;
  }
  bool ReadsEveryShard() const override { return reads_every_shard; }
  absl::StatusOr<std::vector<QueuedJob>> ReadEvery(absl::string_view consumer, int count,
                                                   absl::Duration block) override {
    reads.push_back({kEveryShard, block});
    std::vector<QueuedJob> out;
    std::map<int, int> taken;  // per shard
    for (auto it = incoming.begin(); it != incoming.end();) {
      if (taken[it->shard] == count) {
        ++it;
        continue;
      }
      ++taken[it->shard];
      it = HandOut(it, consumer, &out);
    }
    return out;
  }
  absl::StatusOr<std::vector<QueuedJob>> Claim(int shard, absl::string_view consumer,
                                               absl::Duration, int count) override {
    claims.push_back(shard);
    std::vector<QueuedJob> out;
    for (auto it = stale.begin(); it != stale.end() && static_cast<int>(out.size()) < count;) {
      if (it->shard != shard) {
        ++it;
        continue;
      }
      out.push_back(*it);
      it = stale.erase(it);
      owner[out.back().id] = std::string(consumer);
      handouts[out.back().id] += 2;  // read by the crashed sender, then claimed
    }
    return out;
  }
  absl::StatusOr<int> Touch(const QueuedJob& job, absl::string_view consumer) override {
    ++touches;
    auto it = owner.find(job.id);
    if (it == owner.end() || it->second != consumer) return 0;
    return handouts[job.id];
  }
  absl::Status Ack(const QueuedJob& job) override {
    acked.push_back(job.id);
    owner.erase(job.id);
    return absl::OkStatus();
  }
  absl::Status Bury(const QueuedJob& job, const DeadLetter& letter) override {
    buried.push_back(letter);
    owner.erase(job.id);
    return absl::OkStatus();
  }
  absl::StatusOr<bool> ChallengeLive(absl::string_view, absl::string_view challenge) override {
    live_checks.push_back(std::string(challenge));
    return live;
  }
  absl::StatusOr<QueueStats> Stats() override { return QueueStats{3, 1, 2}; }
  absl::StatusOr<DeadLetterPage> ListDead(int count, absl::string_view page_token) override {
    page_tokens.push_back(std::string(page_token));
    DeadLetterPage page;
    for (const DeadLetter& letter : buried) {
      if (static_cast<int>(page.letters.size()) == count) {
        page.next_page_token = "more";
        break;
      }
      page.letters.push_back(letter);
    }
    return page;
  }
  absl::StatusOr<int> PruneConsumers(absl::Duration) override { return 0; }

  static constexpr int kEveryShard = -1;  // ReadCall::shard of ReadEvery
  struct ReadCall {
    int shard;
    absl::Duration block;
  };
  bool reads_every_shard = false;  // a Redis Cluster's queue by default, one Redis node if set
  absl::Status status;  // what Enqueue and Reach answer
  std::vector<QueuedJob> enqueued;
  std::vector<std::string> reached;
  std::deque<QueuedJob> incoming;
  std::deque<QueuedJob> stale;  // read by a sender that died
  std::map<std::string, std::string> owner;
  std::map<std::string, int> handouts;
  std::vector<ReadCall> reads;
  std::vector<int> claims;
  std::vector<std::string> acked;
  std::vector<DeadLetter> buried;
  std::vector<std::string> live_checks;
  std::vector<std::string> page_tokens;
  bool live = true;
  int touches = 0;

 private:
  // Moves the incoming job at `it` to `out`, owned by `consumer`; the next incoming job.
  std::deque<QueuedJob>::iterator HandOut(std::deque<QueuedJob>::iterator it,
                                          absl::string_view consumer, std::vector<QueuedJob>* out) {
    out->push_back(*it);
    owner[it->id] = std::string(consumer);
    handouts[it->id]++;
    return incoming.erase(it);
  }

  const int shards_;
  int next_id_ = 0;
};

}  // namespace tally::otp::testing
