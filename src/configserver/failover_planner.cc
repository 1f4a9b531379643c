#include "configserver/failover_planner.h"

#include <fmt/format.h>

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

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

ShardPlan PlanShard(const ShardRecord& shard, const std::map<std::string, NodeHealth>& health, int64_t now_ms,
                    int64_t down_after_ms, const std::vector<ProxyReport>& proxies) {
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
    // Proxies are witnesses: a master that we cannot reach but a live
    // proxy still does is alive, and probably still acknowledging writes.
    // Promoting a replica then would give the shard two masters (split
    // brain), and whatever the old one acknowledged after its replica last
    // heard from it would be lost. Our side of the network is the suspect:
    // a control-plane partition, alerted, not failed over. (Fencing first
    // and failing over anyway would trade those clients' availability for
    // nothing: the master serves them.)
    std::vector<std::string> reaching;
    int64_t last_alive_ms = recorded->probed_ms;  // our last probe that answered
    for (const auto& p : proxies) {
      if (p.Reaches(master)) reaching.push_back(p.id);
      auto lost = p.unreachable.find(master);
      if (lost != p.unreachable.end()) last_alive_ms = std::max(last_alive_ms, lost->second);
    }
    if (!reaching.empty()) {
      plan.partitioned = fmt::format(
          "master {} fails our probes for {} ms but {} live proxies reach it ({}): a control-plane "
          "partition, not failing over",
          master, now_ms - recorded->failing_since_ms, reaching.size(), Join(reaching));
      plan.unfence = shard.fenced;
    } else {
      // The replica that has seen the most of the old master's stream loses
      // the fewest writes. Nodes in the down set are never candidates: they
      // may be stale old masters or replicas not yet in sync. Nor is one that
      // stopped hearing from the master (kContactSlackMs) before the master
      // was last seen alive: a link cut while the master kept acknowledging
      // writes (its master_link_status still reads up until repl-timeout).
      const NodeHealth* best = nullptr;
      std::string best_node;
      std::vector<std::string> stale;
      for (const auto& node : shard.nodes) {
        const NodeHealth* h = Find(health, node);
        if (node == master || shard.IsDown(node) || h == nullptr || !h->reachable || h->role != "slave" ||
            h->replicating_from != master) {
          continue;
        }
        if (h->contact_ms < last_alive_ms - kContactSlackMs) {
          stale.push_back(
              fmt::format("{} last heard from it {} ms before", node, last_alive_ms - h->contact_ms));
          continue;
        }
        if (best == nullptr || h->offset > best->offset) {
          best = h;
          best_node = node;
        }
      }
      if (best == nullptr) {
        plan.stuck = "master " + master + " is down and no in-sync replica is reachable";
        if (!stale.empty()) plan.stuck += " (stale: " + Join(stale) + ")";
        plan.unfence = shard.fenced;
      } else if (!shard.fenced) {
        // Fence before promote: every proxy must have stopped sending to the
        // old master (a proxy that just regained it must not write there
        // while the replica is promoted), so the first step only publishes
        // the fence.
        plan.fence = true;
      } else {
        std::vector<std::string> lagging;
        for (const auto& p : proxies) {
          if (p.epoch < shard.fence_epoch) lagging.push_back(fmt::format("{} (epoch {})", p.id, p.epoch));
        }
        if (!lagging.empty()) {
          plan.waiting = fmt::format("fenced at epoch {}, waiting for {}", shard.fence_epoch, Join(lagging));
        } else {
          plan.promote = best_node;
          plan.mark_down.push_back(master);
          master = plan.promote;
        }
      }
    }
  } else if (shard.fenced && recorded != nullptr && recorded->reachable) {
    // The master answers again before its failover finished. (Only then: a
    // new leader that inherits the fence has not yet seen the master fail
    // for down-after, which is no reason to lift it.)
    plan.unfence = true;
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
