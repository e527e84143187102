#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "common/testing/test_support.h"

namespace tally::testing {

// A throwaway Redis Cluster of the test's own (tools/dev redis-cluster-start) on free loopback
// ports: three primaries and their replicas, with a short cluster-node-timeout so that a
// replica takes over from a killed primary within a few seconds. Started by the tests that need
// one (never by `tools/dev test`, so suites stay parallel); stopped, its files removed, on
// destruction.
class LocalRedisCluster {
 public:
  struct Options {
    int nodes = 6;  // 3 primaries + 1 replica each
    absl::Duration node_timeout = absl::Milliseconds(1000);
    std::string password;  // requirepass (and masterauth) of every node when set
  };

  LocalRedisCluster() : LocalRedisCluster(Options{}) {}
  explicit LocalRedisCluster(Options options);
  ~LocalRedisCluster();
  LocalRedisCluster(const LocalRedisCluster&) = delete;
  LocalRedisCluster& operator=(const LocalRedisCluster&) = delete;

  // Starts every node that is not running (all of them the first time: the cluster is created;
  // later a killed node rejoins, as a replica if its replica took over) and waits until every
  // slot is served, every node sees the others and every replica is in sync.
  absl::Status Start();

  // "127.0.0.1:p1,127.0.0.1:p2,...": what --redis_cluster_nodes takes.
  std::string seeds() const;
  // A cluster-mode RedisClient's options for it (seeds, password, generous timeouts).
  RedisOptions ClientOptions() const;
  const std::vector<int>& ports() const { return ports_; }

  // A client of node `port` alone, without cluster routing: for CLUSTER commands, CONFIG, INFO.
  RedisClient& Node(int port);

  struct NodeInfo {
    std::string id;
    int port = 0;
    bool primary = false;
    bool failed = false;    // flagged fail (or pfail) by the node asked
    std::string primary_id;  // of a replica
    std::vector<std::pair<int, int>> slots;
  };
  // The cluster as node `asked` sees it (CLUSTER NODES); 0 asks the first live node.
  absl::StatusOr<std::vector<NodeInfo>> Nodes(int asked = 0);
  // The port of the primary that serves `slot`, and of a replica of it.
  absl::StatusOr<int> PrimaryOf(int slot);
  absl::StatusOr<int> ReplicaOf(int primary_port);

  // SIGKILLs node `port` and waits until it is gone.
  absl::Status Kill(int port);
  // Sends `signal` to node `port` (SIGSTOP/SIGCONT to freeze one).
  absl::Status Signal(int port, int signal);
  bool Alive(int port) const;

  // Waits until a node other than `old_port` serves `slot` as primary and every live node
  // reports cluster_state:ok.
  absl::Status WaitForNewPrimary(int slot, int old_port, absl::Duration timeout);

  // Moves `slot` to the primary on `to_port` the way `redis-cli --cluster reshard` moves each
  // slot: IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys `batch` at a
  // time (calling `between_batches` before each batch, so a test can let traffic run while the
  // slot is half moved), then SETSLOT NODE everywhere.
  absl::Status MigrateSlot(int slot, int to_port, int batch = 1,
                           const std::function<void()>& between_batches = [] {});

  const std::string& dir() const { return dir_; }

 private:
  absl::Status Run(const std::vector<std::string>& dev_args);

  Options options_;
  TempDir temp_;
  std::string dir_;
  std::vector<int> ports_;
  std::vector<int> bus_ports_;
  std::map<int, std::unique_ptr<RedisClient>> nodes_;
  bool started_ = false;
};

// The Redis Cluster of this test process, started on first use (a failed start fails the
// calling test and answers nullptr) and stopped when the process exits. For suites built to run
// ONE_PROCESS (cmake/tally.cmake), whose tests all need one.
LocalRedisCluster* SharedRedisCluster();

// The Redis a store suite runs against: one Redis (TALLY_TEST_REDIS_URL, which `tools/dev test`
// starts), or with `cluster` the process's SharedRedisCluster() configured as the services run
// in cluster mode (a replicated write waits for one replica). Suites built twice pass a macro:
// TALLY_ON_REDIS_CLUSTER, set by their twin (tally_redis_cluster_test in cmake/tally.cmake).
absl::StatusOr<RedisOptions> SuiteRedisOptions(bool cluster);

}  // namespace tally::testing
