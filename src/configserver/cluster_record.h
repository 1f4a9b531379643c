// The ConfigServer's record of one cluster, as stored in etcd under
// /redkube/clusters/<name>: every shard's slots, its registered nodes, which
// one is master, which are down, and a switchover in progress. The topology
// proxies see (ARCHITECTURE.md) is derived from it by PublishedTopology().
// Plain values and pure functions: no I/O, so unit tests check them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::configserver {

struct ShardRecord {
  std::string id;
  std::vector<SlotRange> slots;
  std::string master;              // "host:port"; empty until nodes are registered
  std::vector<std::string> nodes;  // every registered node, master included
  std::vector<std::string> down;   // nodes out of the read set (failed, or stale old masters)
  // A planned switchover holds the shard while FAILOVER runs, so the prober
  // does not "repair" the replica being promoted. Ends at the deadline at the
  // latest (milliseconds since the epoch).
  std::string switching_to;
  int64_t switching_until_ms = 0;

  bool IsDown(const std::string& node) const;
  bool HasNode(const std::string& node) const;
  // Out of / back into the read set (only registered nodes go out).
  void MarkDown(const std::string& node);
  void MarkUp(const std::string& node);
  void RemoveNode(const std::string& node);
};

struct ClusterRecord {
  std::string name;
  uint64_t epoch = 1;
  std::vector<ShardRecord> shards;

  ShardRecord* FindShard(const std::string& id);
  const ShardRecord* FindShard(const std::string& id) const;
  // True when every shard has a master, i.e. proxies can route every slot.
  bool Complete() const;

  std::string ToJson() const;
  static Result<ClusterRecord> FromJson(std::string_view text);

 private:
  static Result<ClusterRecord> ParseRecord(std::string_view text);
};

// A new cluster of `shard_count` shards named shard-0..shard-(N-1), slots
// split evenly as Redis Cluster's tools do (the first shards get the
// remainder), no nodes yet.
ClusterRecord NewCluster(const std::string& name, int shard_count);

// The document proxies route by (cluster, epoch, shards with master, replicas
// and slots, migrations). Replicas are the registered nodes that are neither
// master nor down.
std::string PublishedTopology(const ClusterRecord& record);

// True when the two records publish different topologies (epoch aside): the
// store moves the epoch exactly then.
bool PublishedTopologyDiffers(const ClusterRecord& a, const ClusterRecord& b);

// The clock of switching_until_ms: milliseconds since the Unix epoch, so
// every ConfigServer instance reads a deadline the same way.
int64_t WallClockMs();

// Cluster and shard names: 1-63 of [a-z0-9-], as Kubernetes object names.
bool ValidName(const std::string& name);

}  // namespace redkube::configserver
