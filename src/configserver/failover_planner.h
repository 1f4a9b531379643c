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
#include "configserver/proxy_registry.h"

namespace redkube::configserver {

// What the last probes of one node showed.
struct NodeHealth {
  bool reachable = false;
  int64_t failing_since_ms = 0;    // first failed probe of the current outage; 0 when reachable
  std::string role;                // "master" or "slave" (INFO replication)
  std::string replicating_from;    // "host:port" of its master, for a replica
  bool link_up = false;            // master_link_status:up
  int64_t offset = 0;              // master_repl_offset or slave_repl_offset
  int64_t previous_offset = -1;    // `offset` at its previous probe, if that answered; -1: unknown
  int64_t link_up_since_ms = 0;    // first probe of the current run of link_up; 0: link down
  int64_t master_last_io_s = -1;   // master_last_io_seconds_ago (a replica whose link is up)
  int64_t link_down_since_s = -1;  // master_link_down_since_seconds (a replica whose link is down)
  int64_t probed_ms = 0;           // when the last probe that answered was made
  // A replica: when, at the latest, it last heard from the master it
  // replicates, as the prober estimates it (conservatively: redis-server
  // counts these in whole seconds); 0: unknown. See CandidateFresh.
  int64_t contact_ms = 0;
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
  // The first step of a failover: publish the shard fenced (promote stays
  // empty until every live proxy has applied that epoch).
  bool fence = false;
  // A fence whose failover is no longer called for (the master answers
  // again, or live proxies reach it): lift it.
  bool unfence = false;
  std::string waiting;      // fenced: the proxies not yet confirming it
  std::string partitioned;  // the master fails our probes, but live proxies reach it: no failover

  bool Empty() const {
    return promote.empty() && follow.empty() && mark_down.empty() && mark_up.empty() && !fence && !unfence;
  }
};

// A replica whose last contact with its master is older than the master's
// last sign of life (our last probe that answered, or the last time a live
// proxy reached it) by more than this is no failover candidate: its stream
// stopped while the master may have gone on acknowledging writes. The
// margin covers redis-server's whole-second counters (a reading of N
// seconds is anything from N-1 to N+1: both ends are truncated), our 300 ms
// probes and the proxies' 250 ms PINGs, for a master with no writes (its
// replica hears a PING once a second). It is also the window a double
// fault may lose: a replica cut from its master, then the master cut from
// every proxy within this long (docs/configserver.md).
constexpr int64_t kContactSlackMs = 2000;

// `proxies`: the live proxies' reports (ProxyRegistry::Live). A proxy that
// witnesses and reaches the master vetoes its failover; every live proxy
// must have applied `shard.fence_epoch` before a fenced shard's promotion.
ShardPlan PlanShard(const ShardRecord& shard, const std::map<std::string, NodeHealth>& health, int64_t now_ms,
                    int64_t down_after_ms, const std::vector<ProxyReport>& proxies = {});

}  // namespace redkube::configserver
