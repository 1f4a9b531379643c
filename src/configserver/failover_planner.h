// Decides, from what the prober last saw of a shard's nodes, what the leader
// must do: promote a replica when the master has failed for down-after,
// repair a recorded master that replicates (a switchover or a promotion that
// ended without being recorded), point nodes that replicate from the wrong
// place (or not at all: a returning old master, a restarted replica) at the
// current master, and move nodes in or out of the read set. A pure function,
// so every rule is unit tested without servers; the Prober carries the plan
// out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "configserver/cluster_record.h"

namespace redkube::configserver {

// What the last probes of one node showed.
struct NodeHealth {
  bool reachable = false;
  int64_t failing_since_ms = 0;  // first failed probe of the current outage; 0 when reachable
  std::string role;              // "master" or "slave" (INFO replication)
  std::string replicating_from;  // "host:port" of its master, for a replica
  bool link_up = false;          // master_link_status:up
  int64_t offset = 0;            // master_repl_offset or slave_repl_offset
  int64_t previous_offset = -1;  // `offset` at its previous probe, if that answered; -1: unknown
  int64_t link_up_since_ms = 0;  // first probe of the current run of link_up; 0: link down
};

struct ShardPlan {
  // The node to be the shard's master ("" for none): recorded as master
  // first, then sent REPLICAOF NO ONE (a no-op on a node already master).
  // It may be the recorded master itself (an unfinished promotion).
  std::string promote;
  std::vector<std::string> follow;  // nodes to REPLICAOF the (new) master
  std::vector<std::string> mark_down;
  std::vector<std::string> mark_up;
  std::string stuck;  // why a needed failover cannot happen ("" when fine)

  bool Empty() const { return promote.empty() && follow.empty() && mark_down.empty() && mark_up.empty(); }
};

ShardPlan PlanShard(const ShardRecord& shard, const std::map<std::string, NodeHealth>& health, int64_t now_ms,
                    int64_t down_after_ms);

}  // namespace redkube::configserver
