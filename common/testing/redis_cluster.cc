#include "common/testing/redis_cluster.h"

#include <signal.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tally::testing {
namespace {

std::string PidPath(const std::string& dir, int port) {
  return absl::StrCat(dir, "/", port, "/redis.pid");
}

// "127.0.0.1:7000@17000" → 7000.
int PortOf(absl::string_view address) {
  address = address.substr(0, address.find('@'));
  int port = 0;
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return 0;
  }
  return port;
}

}  // namespace

LocalRedisCluster::LocalRedisCluster(Options options)
    : options_(std::move(options)), dir_(absl::StrCat(temp_.path(), "/redis-cluster")) {
  // Explicit bus ports (cluster-port): PORT + 10000 would land in the kernel's ephemeral range.
  for (int i = 0; i < options_.nodes; ++i) {
    ports_.push_back(FreePort());
    bus_ports_.push_back(FreePort());
  }
}

LocalRedisCluster::~LocalRedisCluster() {
  nodes_.clear();
  (void)Run({"redis-cluster-stop", dir_});
}

absl::Status LocalRedisCluster::Run(const std::vector<std::string>& dev_args) {
  std::vector<std::string> argv = {absl::StrCat(SourceDir(), "/tools/dev")};
  argv.insert(argv.end(), dev_args.begin(), dev_args.end());
  std::map<std::string, std::string> env = {
      {"TALLY_REDIS_CLUSTER_NODE_TIMEOUT",
       absl::StrCat(absl::ToInt64Milliseconds(options_.node_timeout))}};
  env["TALLY_REDIS_PASSWORD"] = options_.password;
  CommandResult result = RunCommand(argv, env, absl::Seconds(120));
  if (result.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("tools/dev ", dev_args[0], " failed: ", result.output));
  }
  return absl::OkStatus();
}

absl::Status LocalRedisCluster::Start() {
  std::vector<std::string> spec;
  for (size_t i = 0; i < ports_.size(); ++i) {
    if (ports_[i] == 0 || bus_ports_[i] == 0) return absl::InternalError("no free port");
    spec.push_back(absl::StrCat(ports_[i], "/", bus_ports_[i]));
  }
  absl::Status started = Run({"redis-cluster-start", dir_, absl::StrJoin(spec, ",")});
  if (started.ok()) started_ = true;
  return started;
}

std::string LocalRedisCluster::seeds() const {
  std::vector<std::string> seeds;
  for (const int port : ports_) seeds.push_back(absl::StrCat("127.0.0.1:", port));
  return absl::StrJoin(seeds, ",");
}

RedisOptions LocalRedisCluster::ClientOptions() const {
  RedisOptions options;
  for (const int port : ports_) options.cluster_nodes.push_back(RedisNode{"127.0.0.1", port});
  options.password = options_.password;
  // Generous: the machine may be busy building.
  options.connect_timeout = absl::Seconds(2);
  options.command_timeout = absl::Seconds(5);
  options.retry_timeout = absl::Seconds(10);
  return options;
}

RedisClient& LocalRedisCluster::Node(int port) {
  std::unique_ptr<RedisClient>& node = nodes_[port];
  if (node == nullptr) {
    RedisOptions options;
    options.port = port;
    options.password = options_.password;
    options.connect_timeout = absl::Seconds(2);
    options.command_timeout = absl::Seconds(5);
    options.reconnect_backoff = absl::ZeroDuration();
    options.pool_size = 2;
    node = std::make_unique<RedisClient>(options);
  }
  return *node;
}

bool LocalRedisCluster::Alive(int port) const {
  const pid_t pid = PidFromFile(PidPath(dir_, port));
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

absl::StatusOr<std::vector<LocalRedisCluster::NodeInfo>> LocalRedisCluster::Nodes(int asked) {
  if (asked == 0) {
    for (const int port : ports_) {
      if (Alive(port)) {
        asked = port;
        break;
      }
    }
  }
  absl::StatusOr<RedisReply> reply = Node(asked).Command({"CLUSTER", "NODES"});
  if (!reply.ok()) return reply.status();
  // <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <epoch> <link> <slot>...
  std::vector<NodeInfo> nodes;
  for (absl::string_view line : absl::StrSplit(reply->str(), '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 8) return absl::InternalError(absl::StrCat("CLUSTER NODES: ", line));
    NodeInfo node;
    node.id = std::string(fields[0]);
    node.port = PortOf(fields[1]);
    node.primary = absl::StrContains(fields[2], "master");
    node.failed = absl::StrContains(fields[2], "fail");
    if (fields[3] != "-") node.primary_id = std::string(fields[3]);
    for (size_t i = 8; i < fields.size(); ++i) {
      if (absl::StartsWith(fields[i], "[")) continue;  // a slot being migrated or imported
      const std::vector<absl::string_view> range = absl::StrSplit(fields[i], '-');
      int first = 0;
      int last = 0;
      if (!absl::SimpleAtoi(range[0], &first)) continue;
      if (range.size() < 2 || !absl::SimpleAtoi(range[1], &last)) last = first;
      node.slots.emplace_back(first, last);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

absl::StatusOr<int> LocalRedisCluster::PrimaryOf(int slot) {
  absl::StatusOr<std::vector<NodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  for (const NodeInfo& node : *nodes) {
    if (!node.primary || node.failed) continue;
    for (const auto& [first, last] : node.slots) {
      if (slot >= first && slot <= last) return node.port;
    }
  }
  return absl::NotFoundError(absl::StrCat("no live primary serves slot ", slot));
}

absl::StatusOr<int> LocalRedisCluster::ReplicaOf(int primary_port) {
  absl::StatusOr<std::vector<NodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  std::string primary_id;
  for (const NodeInfo& node : *nodes) {
    if (node.port == primary_port) primary_id = node.id;
  }
  for (const NodeInfo& node : *nodes) {
    if (!primary_id.empty() && node.primary_id == primary_id && !node.failed) return node.port;
  }
  return absl::NotFoundError(absl::StrCat("no live replica of ", primary_port));
}

absl::Status LocalRedisCluster::Kill(int port) {
  nodes_.erase(port);
  return KillAndWait(PidFromFile(PidPath(dir_, port)), absl::StrCat("redis node ", port));
}

absl::Status LocalRedisCluster::Signal(int port, int signal) {
  const pid_t pid = PidFromFile(PidPath(dir_, port));
  if (pid <= 0 || kill(pid, signal) != 0) {
    return absl::InternalError(absl::StrCat("cannot signal redis node ", port));
  }
  return absl::OkStatus();
}

absl::Status LocalRedisCluster::WaitForNewPrimary(int slot, int old_port,
                                                  absl::Duration timeout) {
  const bool settled = WaitFor(
      [&] {
        absl::StatusOr<int> primary = PrimaryOf(slot);
        if (!primary.ok() || *primary == old_port) return false;
        for (const int port : ports_) {
          if (!Alive(port)) continue;
          absl::StatusOr<RedisReply> info = Node(port).Command({"CLUSTER", "INFO"});
          if (!info.ok() || !absl::StrContains(info->str(), "cluster_state:ok")) return false;
        }
        return true;
      },
      timeout);
  if (!settled) {
    return absl::DeadlineExceededError(
        absl::StrCat("slot ", slot, " still has no primary but ", old_port, " after ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

absl::Status LocalRedisCluster::MigrateSlot(int slot, int to_port, int batch,
                                            const std::function<void()>& between_batches) {
  absl::StatusOr<int> from_port = PrimaryOf(slot);
  if (!from_port.ok()) return from_port.status();
  if (*from_port == to_port) return absl::OkStatus();
  absl::StatusOr<std::vector<NodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  std::string from_id;
  std::string to_id;
  for (const NodeInfo& node : *nodes) {
    if (node.port == *from_port) from_id = node.id;
    if (node.port == to_port) to_id = node.id;
  }
  const std::string s = absl::StrCat(slot);
  RedisClient& from = Node(*from_port);
  RedisClient& to = Node(to_port);
  absl::Status status = to.Command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id}).status();
  if (status.ok()) status = from.Command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id}).status();
  while (status.ok()) {
    absl::StatusOr<RedisReply> keys =
        from.Command({"CLUSTER", "GETKEYSINSLOT", s, absl::StrCat(batch)});
    if (!keys.ok()) return keys.status();
    if (keys->elements().empty()) break;
    between_batches();
    std::vector<std::string> migrate = {"MIGRATE", "127.0.0.1", absl::StrCat(to_port), "", "0",
                                        "5000"};
    if (!options_.password.empty()) {
      migrate.insert(migrate.end(), {"AUTH", options_.password});
    }
    migrate.push_back("KEYS");
    for (const RedisReply& key : keys->elements()) migrate.push_back(key.str());
    status = from.Command(migrate).status();
  }
  if (!status.ok()) return status;
  // The target first, then the source, then everyone else: the order redis-cli uses, so no
  // node ever answers for a slot nobody owns.
  std::vector<int> order = {to_port, *from_port};
  for (const NodeInfo& node : *nodes) {
    if (node.primary && node.port != to_port && node.port != *from_port && Alive(node.port)) {
      order.push_back(node.port);
    }
  }
  for (const int port : order) {
    status = Node(port).Command({"CLUSTER", "SETSLOT", s, "NODE", to_id}).status();
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

LocalRedisCluster* SharedRedisCluster() {
  static LocalRedisCluster* const cluster = [] {
    auto* started = new LocalRedisCluster();
    if (absl::Status status = started->Start(); !status.ok()) {
      ADD_FAILURE() << status;
      delete started;
      return static_cast<LocalRedisCluster*>(nullptr);
    }
    // Stopped at exit, whichever way the tests ended.
    static std::unique_ptr<LocalRedisCluster> owner(started);
    return started;
  }();
  if (cluster == nullptr) ADD_FAILURE() << "the shared Redis Cluster did not start";
  return cluster;
}

absl::StatusOr<RedisOptions> SuiteRedisOptions(bool cluster) {
  if (!cluster) return ParseRedisUrl(RequiredEnv("TALLY_TEST_REDIS_URL"));
  LocalRedisCluster* shared = SharedRedisCluster();
  if (shared == nullptr) return absl::UnavailableError("no Redis Cluster");
  RedisOptions options = shared->ClientOptions();
  options.min_replica_acks = 1;
  return options;
}

}  // namespace tally::testing
