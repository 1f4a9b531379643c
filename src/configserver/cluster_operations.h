// The API's changes to a cluster that touch both Redis and the store:
// register a shard's nodes (setting up replication), add or remove a node,
// and a planned switchover. Each validates first and writes the record in
// one compare-and-swap, so a refused request leaves the record unchanged.
// Thread-safe (the API serves requests from several threads).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "configserver/cluster_store.h"
#include "configserver/replication_control.h"

namespace redkube::configserver {

using OperationResult = std::variant<ClusterRecord, StoreError>;

class ClusterOperations {
 public:
  ClusterOperations(ClusterStore* store, const ReplicationControl* control,
                    std::chrono::milliseconds switchover_timeout);

  // Sets a shard's nodes. On first registration the first node becomes
  // master; later the current master is kept (and must be in the list).
  // Every node must answer; the others are made replicas of the master and
  // join the read set once in sync.
  OperationResult RegisterShard(const std::string& cluster, const std::string& shard,
                                const std::vector<std::string>& nodes);
  OperationResult AddNode(const std::string& cluster, const std::string& shard, const std::string& node);
  // Removing the master switches over to a replica first.
  OperationResult RemoveNode(const std::string& cluster, const std::string& shard, const std::string& node);
  // FAILOVER to `target` (or the in-sync replica with the highest offset):
  // writes pause on the master until the target has them all, so no
  // acknowledged write is lost.
  OperationResult Switchover(const std::string& cluster, const std::string& shard, const std::string& target);

 private:
  std::variant<std::string, StoreError> ChooseTarget(const ShardRecord& shard,
                                                     const std::string& requested) const;

  ClusterStore* store_;
  const ReplicationControl* control_;
  std::chrono::milliseconds switchover_timeout_;
};

}  // namespace redkube::configserver
