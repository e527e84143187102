#include "common/redis/cluster_topology.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/redis/key_slot.h"
#include "common/util/host_port.h"

namespace tally {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("redis: unexpected reply to ", what));
}

bool ValidRange(int64_t first, int64_t last) {
  return first >= 0 && last >= first && last < kClusterSlots;
}

// A node's host as announced; "" and "?" (unknown endpoint) mean the node we asked.
std::string HostOr(absl::string_view host, const RedisNode& asked) {
  if (host.empty() || host == "?") return asked.host;
  return std::string(host);
}

// The value of `name` in a RESP2 map reply (a flat array of name, value, ...).
const RedisReply* Field(const RedisReply& map, absl::string_view name) {
  const std::vector<RedisReply>& e = map.elements();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    if (e[i].str() == name) return &e[i + 1];
  }
  return nullptr;
}

std::optional<int64_t> IntegerOf(const RedisReply* value) {
  if (value == nullptr) return std::nullopt;
  if (value->IsInteger()) return value->integer();
  int64_t n = 0;
  if (value->IsString() && absl::SimpleAtoi(value->str(), &n)) return n;
  return std::nullopt;
}

}  // namespace

std::string RedisNode::address() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::vector<ClusterShard>> ParseClusterShards(const RedisReply& reply,
                                                             const RedisNode& asked) {
  if (!reply.IsArray()) return Malformed("CLUSTER SHARDS");
  std::vector<ClusterShard> shards;
  for (const RedisReply& entry : reply.elements()) {
    const RedisReply* slots = Field(entry, "slots");
    const RedisReply* nodes = Field(entry, "nodes");
    if (!entry.IsArray() || slots == nullptr || nodes == nullptr || !slots->IsArray() ||
        !nodes->IsArray() || slots->elements().size() % 2 != 0) {
      return Malformed("CLUSTER SHARDS");
    }
    ClusterShard shard;
    for (size_t i = 0; i < slots->elements().size(); i += 2) {
      const std::optional<int64_t> first = IntegerOf(&slots->elements()[i]);
      const std::optional<int64_t> last = IntegerOf(&slots->elements()[i + 1]);
      if (!first || !last || !ValidRange(*first, *last)) return Malformed("CLUSTER SHARDS");
      shard.slots.emplace_back(static_cast<int>(*first), static_cast<int>(*last));
    }
    bool has_primary = false;
    bool primary_online = false;
    for (const RedisReply& node : nodes->elements()) {
      const RedisReply* endpoint = Field(node, "endpoint");
      const RedisReply* ip = Field(node, "ip");
      const RedisReply* role = Field(node, "role");
      const RedisReply* health = Field(node, "health");
      const std::optional<int64_t> port = IntegerOf(Field(node, "port"));
      if (role == nullptr || !port || *port <= 0 || *port > 65535) {
        return Malformed("CLUSTER SHARDS");
      }
      RedisNode address;
      address.host = HostOr(endpoint != nullptr && !endpoint->str().empty() ? endpoint->str()
                            : ip != nullptr                                  ? ip->str()
                                                                             : "",
                            asked);
      address.port = static_cast<int>(*port);
      const bool online = health == nullptr || health->str() == "online";
      if (role->str() == "master") {
        // A failed primary stays in its shard until a replica takes over: keep the live one.
        if (!has_primary || (online && !primary_online)) {
          shard.primary = address;
          primary_online = online;
        }
        has_primary = true;
      } else {
        shard.replicas.push_back(address);
      }
    }
    if (has_primary && !shard.slots.empty()) shards.push_back(std::move(shard));
  }
  return shards;
}

absl::StatusOr<std::vector<ClusterShard>> ParseClusterSlots(const RedisReply& reply,
                                                            const RedisNode& asked) {
  if (!reply.IsArray()) return Malformed("CLUSTER SLOTS");
  std::vector<ClusterShard> shards;
  for (const RedisReply& range : reply.elements()) {
    const std::vector<RedisReply>& e = range.elements();
    if (!range.IsArray() || e.size() < 3 || !e[0].IsInteger() || !e[1].IsInteger() ||
        !ValidRange(e[0].integer(), e[1].integer())) {
      return Malformed("CLUSTER SLOTS");
    }
    ClusterShard shard;
    shard.slots.emplace_back(static_cast<int>(e[0].integer()), static_cast<int>(e[1].integer()));
    for (size_t i = 2; i < e.size(); ++i) {
      const std::vector<RedisReply>& node = e[i].elements();
      if (!e[i].IsArray() || node.size() < 2 || !node[1].IsInteger() ||
          node[1].integer() <= 0 || node[1].integer() > 65535) {
        return Malformed("CLUSTER SLOTS");
      }
      RedisNode address{HostOr(node[0].str(), asked), static_cast<int>(node[1].integer())};
      if (i == 2) {
        shard.primary = std::move(address);
      } else {
        shard.replicas.push_back(std::move(address));
      }
    }
    shards.push_back(std::move(shard));
  }
  return shards;
}

std::optional<Redirect> ParseRedirect(absl::string_view error, const RedisNode& from) {
  Redirect redirect;
  if (absl::ConsumePrefix(&error, "ASK ")) {
    redirect.ask = true;
  } else if (!absl::ConsumePrefix(&error, "MOVED ")) {
    return std::nullopt;
  }
  const size_t space = error.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  if (!absl::SimpleAtoi(error.substr(0, space), &redirect.slot) || redirect.slot < 0 ||
      redirect.slot >= kClusterSlots) {
    return std::nullopt;
  }
  // Redis writes IPv6 addresses without brackets ("::1:7000"): the port follows the last colon.
  const absl::string_view address = error.substr(space + 1);
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &redirect.node.port) ||
      redirect.node.port <= 0 || redirect.node.port > 65535) {
    return std::nullopt;
  }
  absl::string_view host = address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  redirect.node.host = HostOr(host, from);
  return redirect;
}

absl::StatusOr<std::vector<RedisNode>> ParseRedisNodes(absl::string_view list) {
  std::vector<RedisNode> nodes;
  for (absl::string_view entry : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const std::optional<HostPort> split = SplitHostPort(entry);
    if (!split.has_value() || split->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\" is not host:port (IPv6 as [addr]:port)"));
    }
    absl::string_view host = split->host;
    if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
      return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\": unterminated IPv6 address"));
    }
    if (host.empty() || (host.find(':') != absl::string_view::npos && host == split->host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\" is not host:port (IPv6 as [addr]:port)"));
    }
    nodes.push_back(RedisNode{std::string(host), split->port});
  }
  if (nodes.empty()) return absl::InvalidArgumentError("no host:port given");
  return nodes;
}

}  // namespace tally
