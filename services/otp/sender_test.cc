#include "services/otp/sender.h"

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/otp/delivery_job.h"
#include "services/otp/test_fakes.h"

namespace tally::otp {
namespace {

using ::testing::HasSubstr;
using ::tally::testing::FakeClock;
using testing::FakeDeliveryQueue;
using testing::FakeRandom;

const std::string kJobKey(32, 'j');
constexpr char kConsumer[] = "host-1-0";

class ScriptedProvider final : public DeliveryProvider {
 public:
  explicit ScriptedProvider(FakeClock& clock) : clock_(clock) {}
  const std::string& name() const override { return name_; }
  DeliveryResult Deliver(const OutgoingMessage& message) override {
    calls.push_back({message, clock_.Now()});
    if (during_delivery) std::exchange(during_delivery, nullptr)();
    if (script.empty()) return DeliveryResult::Delivered();
    DeliveryResult r = script.front();
    script.pop_front();
    return r;
  }
  struct Call {
    OutgoingMessage message;
    absl::Time at;
  };
  std::deque<DeliveryResult> script;
  std::vector<Call> calls;
  // Runs once, inside the next delivery (while its worker is busy with it).
  std::function<void()> during_delivery;

 private:
  const std::string name_ = "scripted";
  FakeClock& clock_;
};

class SenderTest : public ::testing::Test {
 protected:
  SenderTest() : provider_(clock_) {
    options_.consumer_prefix = "host-1";
    options_.initial_backoff = absl::Seconds(1);
    options_.max_backoff = absl::Seconds(8);
    options_.max_attempts = 5;
  }

  std::unique_ptr<Sender> MakeSender() {
    return std::make_unique<Sender>(
        queue_, std::map<int, DeliveryProvider*>{{pb::CHANNEL_SMS, &provider_}}, kJobKey, clock_,
        random_, options_, &metrics_, [this](absl::Duration d) {
          sleeps_.push_back(d);
          clock_.Advance(d);
          return true;
        });
  }

  // Queues one SMS job (a code's, or a notice's) whose lifetime ends `ttl` from now.
  void Enqueue(std::string id, absl::Duration ttl = absl::Minutes(5), int shard = 0,
               bool notice = false) {
    DeliveryJob job;
    job.notice = notice;
    job.directory_id = "dir_1";
    job.challenge_id = "otp_" + id;
    job.channel = pb::CHANNEL_SMS;
    job.enqueue_time = clock_.Now();
    job.expire_time = clock_.Now() + ttl;
    job.masked_destination = "+31*******78";
    job.sealed = SealMessage(kJobKey, job,
                             {pb::CHANNEL_SMS, "+31612345678", "", "Your code is 123456",
                              job.challenge_id},
                             random_);
    queue_.incoming.push_back({shard, id, JobToFields(job)});
  }

  // Queues one SMS job (as Enqueue) on `shard` of `queue`.
  void EnqueueOn(FakeDeliveryQueue& queue, std::string id, int shard) {
    Enqueue(std::move(id));
    QueuedJob queued = queue_.incoming.back();
    queue_.incoming.pop_back();
    queued.shard = shard;
    queue.incoming.push_back(queued);
  }

  void RunOnce(Sender& sender) {
    Sender::WorkerState state;
    state.last_claim = clock_.Now();
    ASSERT_TRUE(sender.RunOnce(kConsumer, &state).ok());
  }

  FakeClock clock_;
  FakeRandom random_;
  FakeDeliveryQueue queue_;
  ScriptedProvider provider_;
  SenderOptions options_;
  prometheus::Registry registry_;
  OtpMetrics metrics_{registry_};
  std::vector<absl::Duration> sleeps_;
};

TEST_F(SenderTest, DeliversTheDecryptedMessageAndAcknowledges) {
  auto sender = MakeSender();
  Enqueue("1-0");
  RunOnce(*sender);
  ASSERT_EQ(provider_.calls.size(), 1u);
  EXPECT_EQ(provider_.calls[0].message.destination, "+31612345678");
  EXPECT_EQ(provider_.calls[0].message.text, "Your code is 123456");
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0"));
  EXPECT_TRUE(queue_.buried.empty());
}

TEST_F(SenderTest, RetriesWithGrowingJitteredBackoffThenDelivers) {
  auto sender = MakeSender();
  provider_.script = {DeliveryResult::Retryable("HTTP 500"), DeliveryResult::Retryable("HTTP 503"),
                      DeliveryResult::Retryable("timeout")};
  Enqueue("1-0");
  RunOnce(*sender);
  ASSERT_EQ(provider_.calls.size(), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const absl::Duration base = absl::Seconds(1 << i);
    EXPECT_GE(sleeps_[i], base / 2);
    EXPECT_LE(sleeps_[i], base);
  }
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0"));
  EXPECT_GE(queue_.touches, 4);  // the claim is renewed before every attempt
}

TEST_F(SenderTest, PermanentFailureIsDeadLetteredWithTheReason) {
  auto sender = MakeSender();
  provider_.script = {DeliveryResult::Permanent("HTTP 400")};
  Enqueue("1-0");
  RunOnce(*sender);
  EXPECT_EQ(provider_.calls.size(), 1u);
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_EQ(queue_.buried[0].reason, "permanent: HTTP 400");
  EXPECT_EQ(queue_.buried[0].challenge_id, "otp_1-0");
  EXPECT_EQ(queue_.buried[0].masked_destination, "+31*******78");
  EXPECT_EQ(queue_.buried[0].attempts, 1);
  EXPECT_TRUE(queue_.acked.empty());
}

TEST_F(SenderTest, ExhaustedRetriesAreDeadLettered) {
  options_.max_attempts = 3;
  auto sender = MakeSender();
  provider_.script = {DeliveryResult::Retryable("HTTP 500"), DeliveryResult::Retryable("HTTP 500"),
                      DeliveryResult::Retryable("HTTP 502")};
  Enqueue("1-0");
  RunOnce(*sender);
  EXPECT_EQ(provider_.calls.size(), 3u);
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_EQ(queue_.buried[0].reason, "retries exhausted: HTTP 502");
  EXPECT_EQ(queue_.buried[0].attempts, 3);
}

TEST_F(SenderTest, NeverDeliversAfterTheCodeExpired) {
  auto sender = MakeSender();
  Enqueue("1-0", absl::Minutes(5));
  clock_.Advance(absl::Minutes(5));
  RunOnce(*sender);
  EXPECT_TRUE(provider_.calls.empty());
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_EQ(queue_.buried[0].reason, "expired before delivery");
}

TEST_F(SenderTest, StopsRetryingWhenTheNextAttemptWouldBeTooLate) {
  options_.max_backoff = options_.initial_backoff = absl::Seconds(8);
  auto sender = MakeSender();
  provider_.script = {DeliveryResult::Retryable("HTTP 500"), DeliveryResult::Retryable("HTTP 500"),
                      DeliveryResult::Retryable("HTTP 500")};
  Enqueue("1-0", absl::Seconds(12));
  RunOnce(*sender);
  for (const auto& call : provider_.calls) EXPECT_LT(call.at, clock_.Now() + absl::Seconds(12));
  EXPECT_LE(provider_.calls.size(), 2u);
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_THAT(queue_.buried[0].reason, HasSubstr("expired before delivery; last error: HTTP 500"));
}

TEST_F(SenderTest, SkipsJobsWhoseChallengeWasReplacedOrUsed) {
  auto sender = MakeSender();
  queue_.live = false;
  Enqueue("1-0");
  RunOnce(*sender);
  EXPECT_TRUE(provider_.calls.empty());
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0"));
  EXPECT_TRUE(queue_.buried.empty());
}

TEST_F(SenderTest, LeavesAJobAnotherSenderTookOver) {
  auto sender = MakeSender();
  provider_.script = {DeliveryResult::Retryable("HTTP 500")};
  Enqueue("1-0");
  // The first touch succeeds; during the backoff another sender claims it.
  auto* queue = &queue_;
  sender = std::make_unique<Sender>(
      queue_, std::map<int, DeliveryProvider*>{{pb::CHANNEL_SMS, &provider_}}, kJobKey, clock_,
      random_, options_, &metrics_, [this, queue](absl::Duration d) {
        clock_.Advance(d);
        queue->owner["1-0"] = "other-0";
        return true;
      });
  RunOnce(*sender);
  EXPECT_EQ(provider_.calls.size(), 1u);
  EXPECT_TRUE(queue_.acked.empty());
  EXPECT_TRUE(queue_.buried.empty());
}

TEST_F(SenderTest, BuriesMalformedUndecryptableAndTooOftenReclaimedJobs) {
  auto sender = MakeSender();
  queue_.incoming.push_back({0, "1-0", {{"v", "1"}, {"challenge", "otp_x"}}});
  RunOnce(*sender);
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_EQ(queue_.buried[0].reason, "malformed job");

  Enqueue("2-0");
  for (auto& [field, value] : queue_.incoming.back().fields) {
    if (field == "challenge") value = "otp_other";  // no longer matches the sealed data
  }
  RunOnce(*sender);
  ASSERT_EQ(queue_.buried.size(), 2u);
  EXPECT_THAT(queue_.buried[1].reason, HasSubstr("cannot decrypt"));

  Enqueue("3-0");
  queue_.handouts["3-0"] = options_.max_handouts;  // Read adds one more
  RunOnce(*sender);
  ASSERT_EQ(queue_.buried.size(), 3u);
  EXPECT_THAT(queue_.buried[2].reason, HasSubstr("handed out 6 times"));
  EXPECT_TRUE(provider_.calls.empty());
}

TEST_F(SenderTest, TakesOverStaleJobsOneAtATimeBeforeReadingNewOnes) {
  auto sender = MakeSender();
  Enqueue("1-0");
  Enqueue("2-0");
  Enqueue("3-0");
  queue_.stale.push_back(queue_.incoming[0]);
  queue_.stale.push_back(queue_.incoming[1]);
  queue_.incoming.erase(queue_.incoming.begin(), queue_.incoming.begin() + 2);
  Sender::WorkerState state;
  ASSERT_TRUE(sender->RunOnce(kConsumer, &state).ok());
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0"));
  ASSERT_TRUE(sender->RunOnce(kConsumer, &state).ok());
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0", "2-0"));
  // No stale job left: this round claims nothing and reads the new one.
  ASSERT_TRUE(sender->RunOnce(kConsumer, &state).ok());
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0", "2-0", "3-0"));
  EXPECT_EQ(state.last_claim, clock_.Now());
  EXPECT_EQ(provider_.calls.size(), 3u);
}

TEST_F(SenderTest, ANoticeIsDeliveredWithoutAChallengeToCheck) {
  auto sender = MakeSender();
  queue_.live = false;  // no challenge has the notice's id
  Enqueue("1-0", absl::Hours(24), 0, /*notice=*/true);
  RunOnce(*sender);
  ASSERT_EQ(provider_.calls.size(), 1u);
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0"));
  EXPECT_TRUE(queue_.live_checks.empty());
  // A code's job with the same fields is checked, and dropped.
  Enqueue("2-0");
  RunOnce(*sender);
  EXPECT_EQ(provider_.calls.size(), 1u);
  EXPECT_THAT(queue_.live_checks, ::testing::ElementsAre("otp_2-0"));
  EXPECT_THAT(queue_.acked, ::testing::ElementsAre("1-0", "2-0"));
}

TEST_F(SenderTest, AJobSealedAsACodeCannotBePassedOffAsANotice) {
  auto sender = MakeSender();
  queue_.live = false;
  Enqueue("1-0");
  queue_.incoming.back().fields.emplace_back("type", "notice");  // skip the challenge check?
  RunOnce(*sender);
  EXPECT_TRUE(provider_.calls.empty());
  ASSERT_EQ(queue_.buried.size(), 1u);
  EXPECT_THAT(queue_.buried[0].reason, HasSubstr("cannot decrypt"));
}

// Idle workers block on their home shard only; after each read they sweep every shard without
// blocking and keep sweeping while there is work, so jobs on shards no worker calls home are
// delivered too.
TEST_F(SenderTest, AWorkerBlocksOnItsHomeShardAndSweepsTheOthers) {
  FakeDeliveryQueue queue(4);
  auto sender = std::make_unique<Sender>(
      queue, std::map<int, DeliveryProvider*>{{pb::CHANNEL_SMS, &provider_}}, kJobKey, clock_,
      random_, options_, &metrics_, [](absl::Duration) { return true; });
  EnqueueOn(queue, "1-0", 2);
  EnqueueOn(queue, "2-0", 3);
  EnqueueOn(queue, "3-0", 3);
  Sender::WorkerState state;
  state.home = 1;
  state.last_claim = clock_.Now();
  for (int round = 0; round < 5; ++round) ASSERT_TRUE(sender->RunOnce(kConsumer, &state).ok());
  EXPECT_THAT(queue.acked, ::testing::ElementsAre("1-0", "2-0", "3-0"));
  ASSERT_EQ(provider_.calls.size(), 3u);
  // Round 1 blocks on shard 1 (empty); rounds 2-4 sweep without blocking and find 2, 3, 3;
  // round 5 sweeps all four in vain, then blocks on the home shard again.
  int blocking = 0;
  for (const auto& read : queue.reads) {
    if (read.block > absl::ZeroDuration()) {
      ++blocking;
      EXPECT_EQ(read.shard, 1);
      EXPECT_EQ(read.block, options_.read_block);
    }
  }
  EXPECT_EQ(blocking, 2);
  EXPECT_EQ(queue.reads.back().shard, 1);
  EXPECT_GT(queue.reads.back().block, absl::ZeroDuration());
  std::set<int> swept;
  for (const auto& read : queue.reads) swept.insert(read.shard);
  EXPECT_EQ(swept, (std::set<int>{0, 1, 2, 3}));
}

// One Redis node: an idle worker waits on every shard at once. One busy directory fills one
// shard; a job that arrives there while the worker that calls it home is delivering goes to
// another idle worker at once, not after that worker's read_block on its own (empty) shard.
TEST_F(SenderTest, OnOneRedisNodeAJobOnABusyWorkersShardGoesToAnIdleWorkerAtOnce) {
  FakeDeliveryQueue queue(4);
  queue.reads_every_shard = true;
  auto sender = std::make_unique<Sender>(
      queue, std::map<int, DeliveryProvider*>{{pb::CHANNEL_SMS, &provider_}}, kJobKey, clock_,
      random_, options_, &metrics_, [](absl::Duration) { return true; });
  Sender::WorkerState busy;  // calls shard 2 home
  busy.home = 2;
  busy.last_claim = clock_.Now();
  Sender::WorkerState idle;  // calls shard 1 home
  idle.home = 1;
  idle.last_claim = clock_.Now();
  EnqueueOn(queue, "1-0", 2);
  size_t reads_before_idle_round = 0;
  provider_.during_delivery = [&] {
    EnqueueOn(queue, "2-0", 2);
    reads_before_idle_round = queue.reads.size();
    ASSERT_TRUE(sender->RunOnce("host-1-1", &idle).ok());
  };
  ASSERT_TRUE(sender->RunOnce(kConsumer, &busy).ok());
  // The idle worker's one round was one blocking read of every shard, which delivered 2-0
  // while 1-0 was still being delivered.
  EXPECT_THAT(queue.acked, ::testing::ElementsAre("2-0", "1-0"));
  ASSERT_EQ(queue.reads.size(), reads_before_idle_round + 1);
  EXPECT_EQ(queue.reads[reads_before_idle_round].shard, FakeDeliveryQueue::kEveryShard);
  EXPECT_EQ(queue.reads[reads_before_idle_round].block, options_.read_block);
  // The first worker, idle too, had waited on every shard as well.
  EXPECT_EQ(queue.reads.front().shard, FakeDeliveryQueue::kEveryShard);
}

TEST_F(SenderTest, StaleJobsAreTakenOverFromEveryShard) {
  FakeDeliveryQueue queue(3);
  auto sender = std::make_unique<Sender>(
      queue, std::map<int, DeliveryProvider*>{{pb::CHANNEL_SMS, &provider_}}, kJobKey, clock_,
      random_, options_, &metrics_, [](absl::Duration) { return true; });
  Enqueue("1-0");
  QueuedJob stale = queue_.incoming.back();
  stale.shard = 2;
  queue.stale.push_back(stale);
  Sender::WorkerState state;
  ASSERT_TRUE(sender->RunOnce(kConsumer, &state).ok());
  EXPECT_THAT(queue.claims, ::testing::ElementsAre(0, 1, 2));
  EXPECT_THAT(queue.acked, ::testing::ElementsAre("1-0"));
}

TEST_F(SenderTest, ExportsQueueGauges) {
  auto sender = MakeSender();
  sender->UpdateStats();
  bool found = false;
  for (const auto& family : registry_.Collect()) {
    if (family.name == "tally_otp_stream_backlog") {
      found = true;
      EXPECT_EQ(family.metric[0].gauge.value, 3);
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace tally::otp
