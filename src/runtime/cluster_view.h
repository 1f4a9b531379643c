// The ConfigServer's cluster record as the workflows, the server start step
// and `redkube status` read it (GET /v1/clusters/NAME: ClusterRecord::ToJson
// plus "complete", "leader" and the prober's per-node "health"): one typed
// reader instead of a JSON walk in each. Read-only; a plain value, copyable.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::runtime {

// What the ConfigServer's prober last saw of a node.
struct NodeHealthView {
  bool reachable = false;
  std::string role;              // "master", "slave", or empty if unknown
  std::string replicating_from;  // "host:port" of its master, for a replica
  bool link_up = false;
  int64_t offset = 0;
};

struct NodeView {
  std::string address = {};  // "host:port", as registered
  // Not in the shard's "down" list: serving reads (a replica: its link is
  // up and it caught up once; a joining replica is down until then).
  bool in_sync = true;
  std::optional<NodeHealthView> health = std::nullopt;  // when the record came with "health"
};

struct ShardView {
  std::string id = {};
  std::string master = {};  // "host:port"; empty until the shard's nodes are registered
  std::vector<NodeView> nodes = {};
  std::vector<SlotRange> slots = {};

  int SlotCount() const;
  const NodeView* Node(const std::string& address) const;  // null if not registered
  bool HasNode(const std::string& address) const { return Node(address) != nullptr; }
  std::vector<std::string> Addresses() const;  // the nodes' addresses, in record order
  int OutOfSync() const;                       // nodes not in sync
};

// The record's migrations, summed: which run or wait (not done, failed or
// cancelled) and how many ended.
struct MigrationsSummary {
  std::vector<std::string> active_ids;
  int finished = 0;
};

struct ClusterView {
  std::string name;
  uint64_t epoch = 0;
  // Every shard with slots (or in a migration) has a master. Only a GET
  // answer says; a record from POST (creation) reads false.
  bool complete = false;
  std::string leader;  // the ConfigServer instance leading, if said
  std::vector<ShardView> shards;
  MigrationsSummary migrations;

  // Reads a record; an error names what is malformed (a field of the wrong
  // type, no "shards" array). Unknown fields are ignored.
  static Result<ClusterView> FromJson(const nlohmann::json& doc);

  const ShardView* Shard(const std::string& id) const;  // null if absent
  std::vector<std::string> ShardIds() const;            // in record order
};

}  // namespace redkube::runtime
