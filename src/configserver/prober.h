// The leader's health checker: every probe interval it reads INFO
// replication from every registered node (in parallel, each bounded by a
// timeout), keeps each node's NodeHealth, reads the live proxies' reports
// (their witness of the masters, and the epochs they applied), and carries
// out the FailoverPlanner's plan for each shard: fence, promote, re-point,
// mark down or up. It also keeps each server's replication settings: links
// pinged every second (ReplicationControl::ConfigureLinks), and on each
// master min-replicas-to-write 1 while a replica is in sync, 0 while none
// is (so a dead replica does not stop writes, but a master cut off from its
// replicas and from us does). A standby only waits. Every record change is
// guarded by the leader key, so a leader that lost its lease cannot write.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "configserver/cluster_store.h"
#include "configserver/failover_planner.h"
#include "configserver/leader_lease.h"
#include "configserver/proxy_registry.h"
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
  std::atomic<uint64_t> fences{0};
  std::atomic<uint64_t> partitions{0};  // failovers not made: live proxies reach the master
};

class Prober {
 public:
  Prober(ClusterStore* store, const LeaderLease* lease, const ReplicationControl* control,
         const ProxyRegistry* proxies, ProberOptions options);
  ~Prober();

  void Start();
  void Stop();

  // What the last probes saw (empty on a standby).
  std::map<std::string, NodeHealth> HealthSnapshot() const;
  // Per "cluster/shard": why a needed failover is not happening (stuck, a
  // control-plane partition, waiting for proxies), as last logged.
  std::map<std::string, std::string> AlertsSnapshot() const;
  const ProberStats& stats() const { return stats_; }

 private:
  // One round: probe every node, then carry out each shard's plan.
  void Round();
  void ProbeAll(const std::vector<ClusterRecord>& clusters, int64_t now_ms);
  void CarryOut(const ClusterRecord& cluster, const ShardRecord& shard, const ShardPlan& plan);
  // Publishes `shard` fenced (or, `fenced` false, lifts the fence); returns
  // the record written.
  std::optional<ClusterRecord> WriteFence(const ClusterRecord& cluster, const ShardRecord& shard,
                                          bool fenced);
  // Waits (a few hundred ms at most) for every live proxy to apply
  // `epoch`; returns the reports seen last.
  // nullopt when the reports could not be read.
  std::optional<std::vector<ProxyReport>> AwaitConfirmations(const std::string& cluster, uint64_t epoch);
  // The replication settings of every node, and min-replicas-to-write of
  // each shard's master, made what they should be (see the class comment).
  void KeepSettings(const std::vector<ClusterRecord>& clusters);
  // The kept server settings of each cluster, on every reachable node
  // whose applied version is not the current one.
  void KeepServerSettings(const std::vector<ClusterRecord>& clusters,
                          const std::map<std::string, NodeHealth>& health);
  // Whether etcd still holds `shard` with the master the plan was made for
  // and no switchover under way.
  bool StillAsPlanned(const ClusterRecord& cluster, const ShardRecord& shard);
  // Names `shard`'s former master again after `promoted` could not be made
  // master.
  void UndoNewMaster(const ClusterRecord& cluster, const ShardRecord& shard, const std::string& promoted);

  ClusterStore* store_;
  const LeaderLease* lease_;
  const ReplicationControl* control_;
  const ProxyRegistry* proxies_;
  ProberOptions options_;
  ProberStats stats_;
  std::map<std::string, std::unique_ptr<RedisClient>> clients_;  // prober thread only
  mutable std::mutex mu_;
  std::map<std::string, NodeHealth> health_;
  std::map<std::string, std::string> stuck_;  // shard key -> last reason logged (under mu_)
  // What each node was last set to by this term (prober thread only);
  // forgotten when a node stops answering (a restart loses CONFIG SET).
  std::set<std::string> links_configured_;
  std::map<std::string, int> min_replicas_;
  // The settings version each node was given (or refused: logged once).
  std::map<std::string, uint64_t> settings_applied_;
  // Last, so that it stops before the members a round uses go.
  PeriodicThread rounds_;
};

}  // namespace redkube::configserver
