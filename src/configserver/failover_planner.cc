#include "configserver/failover_planner.h"

namespace redkube::configserver {
namespace {

bool FailedFor(const NodeHealth* h, int64_t now_ms, int64_t down_after_ms) {
  // A node never probed yet has not failed: the prober needs one round.
  if (h == nullptr || h->reachable || h->failing_since_ms == 0) return false;
  return now_ms - h->failing_since_ms >= down_after_ms;
}

const NodeHealth* Find(const std::map<std::string, NodeHealth>& health, const std::string& node) {
  auto it = health.find(node);
  return it == health.end() ? nullptr : &it->second;
}

// A replica is in sync when its link has been up for 1.5 s and it holds
// all its master held one probe earlier. The link alone is not
// enough: after a full sync redis-server 7.0 holds the stream back until the
// replica's next ACK (sent once a second) while the link already reads up,
// and a replica promoted then lacks every write of that time.
constexpr int64_t kStreamStartMs = 1500;

bool CaughtUp(const NodeHealth& replica, const NodeHealth* master, int64_t now_ms) {
  return replica.link_up && replica.link_up_since_ms > 0 &&
         now_ms - replica.link_up_since_ms >= kStreamStartMs && master != nullptr && master->reachable &&
         master->previous_offset >= 0 && replica.offset >= master->previous_offset;
}

}  // namespace

ShardPlan PlanShard(const ShardRecord& shard, const std::map<std::string, NodeHealth>& health, int64_t now_ms,
                    int64_t down_after_ms) {
  ShardPlan plan;
  if (shard.master.empty()) return plan;
  // A planned switchover owns the shard until it ends or times out.
  if (!shard.switching_to.empty() && now_ms < shard.switching_until_ms) return plan;

  std::string master = shard.master;
  const NodeHealth* recorded = Find(health, master);
  if (recorded != nullptr && recorded->reachable && recorded->role == "slave") {
    // The recorded master replicates. If it follows a shard node that is
    // master, a switchover finished without being recorded (its
    // ConfigServer died, or its last write failed): the record adopts that
    // node. Otherwise a promotion was recorded but not finished, or the node
    // was re-pointed by hand: it is made master again. Either way no node
    // is ever pointed at a master that is itself a replica (two servers
    // replicating each other would leave the shard with no master).
    const std::string& source = recorded->replicating_from;
    const NodeHealth* h = Find(health, source);
    bool adopt = source != master && shard.HasNode(source) && !shard.IsDown(source) && h != nullptr &&
                 h->reachable && h->role == "master";
    plan.promote = adopt ? source : master;
    master = plan.promote;
  } else if (FailedFor(recorded, now_ms, down_after_ms)) {
    // The replica that has seen the most of the old master's stream loses
    // the fewest writes. Nodes in the down set are never candidates: they
    // may be stale old masters or replicas not yet in sync.
    const NodeHealth* best = nullptr;
    for (const auto& node : shard.nodes) {
      const NodeHealth* h = Find(health, node);
      if (node == master || shard.IsDown(node) || h == nullptr || !h->reachable || h->role != "slave" ||
          h->replicating_from != master) {
        continue;
      }
      if (best == nullptr || h->offset > best->offset) {
        best = h;
        plan.promote = node;
      }
    }
    if (plan.promote.empty()) {
      plan.stuck = "master " + master + " is down and no in-sync replica is reachable";
    } else {
      plan.mark_down.push_back(master);
      master = plan.promote;
    }
  }

  for (const auto& node : shard.nodes) {
    if (node == master || node == shard.master) continue;
    const NodeHealth* h = Find(health, node);
    if (h == nullptr) continue;
    if (!h->reachable) {
      if (!shard.IsDown(node) && FailedFor(h, now_ms, down_after_ms)) plan.mark_down.push_back(node);
      continue;
    }
    bool follows = h->role == "slave" && h->replicating_from == master;
    if (!follows) {
      plan.follow.push_back(node);
    } else if (shard.IsDown(node) && plan.promote.empty() && CaughtUp(*h, Find(health, master), now_ms)) {
      plan.mark_up.push_back(node);
    }
  }
  // (An old master, once back, is just a node that does not follow: it gets
  // REPLICAOF and stays in the down set until its link is up, so its stale
  // keys are never read.)
  return plan;
}

}  // namespace redkube::configserver
