// The leader's health checker: every probe interval it reads INFO
// replication from every registered node (in parallel, each bounded by a
// timeout), keeps each node's NodeHealth, and carries out the FailoverPlanner's
// plan for each shard: promote, re-point, mark down or up. A standby only
// waits. Every record change is guarded by the leader key, so a leader that
// lost its lease cannot write.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "configserver/cluster_store.h"
#include "configserver/failover_planner.h"
#include "configserver/leader_lease.h"
#include "configserver/replication_control.h"
#include "core/periodic_thread.h"

namespace redkube::configserver {

struct ProberOptions {
  std::chrono::milliseconds interval{300};
  std::chrono::milliseconds down_after{1500};
};

struct ProberStats {
  std::atomic<uint64_t> rounds{0};
  std::atomic<uint64_t> probes{0};
  std::atomic<uint64_t> probe_failures{0};
  std::atomic<uint64_t> failovers{0};
  std::atomic<uint64_t> repoints{0};
};

class Prober {
 public:
  Prober(ClusterStore* store, const LeaderLease* lease, const ReplicationControl* control,
         ProberOptions options);
  ~Prober();

  void Start();
  void Stop();

  // What the last probes saw (empty on a standby).
  std::map<std::string, NodeHealth> HealthSnapshot() const;
  const ProberStats& stats() const { return stats_; }

 private:
  // One round: probe every node, then carry out each shard's plan.
  void Round();
  void ProbeAll(const std::vector<ClusterRecord>& clusters, int64_t now_ms);
  void CarryOut(const ClusterRecord& cluster, const ShardRecord& shard, const ShardPlan& plan);
  // Whether etcd still holds `shard` with the master the plan was made for
  // and no switchover under way.
  bool StillAsPlanned(const ClusterRecord& cluster, const ShardRecord& shard);
  // Names `shard`'s former master again after `promoted` could not be made
  // master.
  void UndoNewMaster(const ClusterRecord& cluster, const ShardRecord& shard, const std::string& promoted);

  ClusterStore* store_;
  const LeaderLease* lease_;
  const ReplicationControl* control_;
  ProberOptions options_;
  ProberStats stats_;
  std::map<std::string, std::unique_ptr<RedisClient>> clients_;  // prober thread only
  mutable std::mutex mu_;
  std::map<std::string, NodeHealth> health_;
  std::map<std::string, std::string> stuck_;  // shard key -> last reason logged
  // Last, so that it stops before the members a round uses go.
  PeriodicThread rounds_;
};

}  // namespace redkube::configserver
