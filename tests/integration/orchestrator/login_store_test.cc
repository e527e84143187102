// The login store's and the lockout's Lua scripts against the real Redis of `tools/dev test`:
// the LoginStore/LockoutStore contract (services/orchestrator/testing/login_store_contract.cc),
// the cases the in-memory fake of LoginManager's unit tests passes too. Each case has its own
// directory id, so cases run in parallel. login_store_cluster_test runs the same cases on a
// Redis Cluster (every script within one hash slot, failures waiting for a replica).

#ifndef TALLY_ON_REDIS_CLUSTER
#define TALLY_ON_REDIS_CLUSTER 0
#endif

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_cluster.h"
#include "common/testing/test_support.h"
#include "common/util/random.h"
#include "gtest/gtest.h"
#include "services/orchestrator/redis_login_store.h"
#include "services/orchestrator/testing/login_store_contract.h"

namespace tally::orchestrator::testing {
namespace {

class RedisBackend final : public StoreBackend {
 public:
  explicit RedisBackend(std::shared_ptr<RedisClient> redis)
      : redis_(std::move(redis)),
        logins_(redis_),
        lockout_(redis_, LockoutPolicy{}, CsprngRandom::Get()),
        start_limiter_(redis_, kContractStartLimits) {}

  LoginStore& logins() override { return logins_; }
  LockoutStore& lockout() override { return lockout_; }
  StartLimiter& start_limiter() override { return start_limiter_; }
  // Script reloads aside (tests running beside this one flush Redis's script cache), and on a
  // Redis Cluster the WAIT after a replicated write and a command resent after a redirection.
  int64_t Operations() override {
    return redis_->round_trips() - redis_->script_reloads() - redis_->replica_waits() -
           redis_->redirections();
  }
  int PendingChecks(absl::string_view directory_id, absl::string_view subject) override {
    absl::StatusOr<RedisReply> n = redis_->Command(
        {"ZCARD", absl::StrCat("{", directory_id, "}:rl:lock:", subject, ":pending")});
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? static_cast<int>(n->integer()) : -1;
  }
  // The most failures of any method (fields `f:<method>`).
  int Failures(absl::string_view directory_id, absl::string_view subject) override {
    absl::StatusOr<RedisReply> lock =
        redis_->Command({"HGETALL", absl::StrCat("{", directory_id, "}:rl:lock:", subject)});
    EXPECT_TRUE(lock.ok()) << lock.status();
    if (!lock.ok()) return -1;
    int worst = 0;
    const std::vector<RedisReply>& e = lock->elements();
    for (size_t i = 0; i + 1 < e.size(); i += 2) {
      if (!absl::StartsWith(e[i].str(), "f:")) continue;
      int n = 0;
      EXPECT_TRUE(absl::SimpleAtoi(e[i + 1].str(), &n)) << e[i + 1].str();
      worst = std::max(worst, n);
    }
    return worst;
  }
  absl::StatusOr<absl::Duration> TimeToLive(absl::string_view login_id) override {
    absl::StatusOr<std::string> directory = DirectoryOfLoginId(login_id);
    if (!directory.ok()) return directory.status();
    absl::StatusOr<RedisReply> ms =
        redis_->Command({"PTTL", absl::StrCat("{", *directory, "}:login:", login_id)});
    if (!ms.ok()) return ms.status();
    if (ms->integer() < 0) return absl::NotFoundError("no such login or no TTL");
    return absl::Milliseconds(ms->integer());
  }

 private:
  std::shared_ptr<RedisClient> redis_;
  RedisLoginStore logins_;
  RedisLockoutStore lockout_;
  RedisStartLimiter start_limiter_;
};

// The scripts take "now" from their callers; the keys' TTLs run on Redis's own clock.
std::unique_ptr<StoreBackend> MakeRedisBackend(absl::Time) {
  absl::StatusOr<RedisOptions> options =
      tally::testing::SuiteRedisOptions(TALLY_ON_REDIS_CLUSTER);
  if (!options.ok()) {
    ADD_FAILURE() << options.status();
    return nullptr;
  }
  options->pool_size = 20;
  return std::make_unique<RedisBackend>(std::make_shared<RedisClient>(*options));
}

#if TALLY_ON_REDIS_CLUSTER
INSTANTIATE_TEST_SUITE_P(RedisCluster, LoginStoreContract, ::testing::Values(&MakeRedisBackend));
#else
INSTANTIATE_TEST_SUITE_P(Redis, LoginStoreContract, ::testing::Values(&MakeRedisBackend));
#endif

}  // namespace
}  // namespace tally::orchestrator::testing
