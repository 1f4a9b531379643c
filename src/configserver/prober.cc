#include "configserver/prober.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <set>

namespace redkube::configserver {
Prober::Prober(ClusterStore* store, const LeaderLease* lease, const ReplicationControl* control,
               ProberOptions options)
    : store_(store),
      lease_(lease),
      control_(control),
      options_(options),
      rounds_(
          "prober", options.interval, [this] { Round(); }, PeriodicThread::FirstRun::kAfterInterval) {}

Prober::~Prober() { Stop(); }

void Prober::Start() { rounds_.Start(); }

void Prober::Stop() { rounds_.Stop(); }

std::map<std::string, NodeHealth> Prober::HealthSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

void Prober::Round() {
  if (!lease_->IsLeader()) {
    // A new term starts from fresh observations.
    {
      std::lock_guard<std::mutex> lock(mu_);
      health_.clear();
    }
    clients_.clear();
    return;
  }
  auto clusters = store_->CachedAll();
  int64_t now = WallClockMs();
  ProbeAll(clusters, now);
  auto health = HealthSnapshot();
  for (const auto& cluster : clusters) {
    for (const auto& shard : cluster.shards) {
      if (!lease_->IsLeader()) break;
      ShardPlan plan = PlanShard(shard, health, now, options_.down_after.count());
      std::string key = cluster.name + "/" + shard.id;
      if (!plan.stuck.empty() && stuck_[key] != plan.stuck) {
        spdlog::error("cluster {} shard {}: {}", cluster.name, shard.id, plan.stuck);
      }
      stuck_[key] = plan.stuck;
      if (!plan.Empty()) CarryOut(cluster, shard, plan);
    }
  }
  stats_.rounds.fetch_add(1);
}

void Prober::ProbeAll(const std::vector<ClusterRecord>& clusters, int64_t now_ms) {
  std::set<std::string> nodes;
  for (const auto& c : clusters) {
    for (const auto& s : c.shards) nodes.insert(s.nodes.begin(), s.nodes.end());
  }
  // Forget nodes no longer registered.
  for (auto it = clients_.begin(); it != clients_.end();) {
    it = nodes.count(it->first) ? std::next(it) : clients_.erase(it);
  }
  std::vector<std::pair<std::string, std::future<Result<NodeHealth>>>> probes;
  for (const auto& node : nodes) {
    auto& client = clients_[node];
    if (!client) client = control_->Connect(node);
    if (!client) continue;
    RedisClient* c = client.get();
    probes.emplace_back(node, std::async(std::launch::async, [c] { return ReplicationControl::Probe(c); }));
  }
  std::map<std::string, NodeHealth> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [node, future] : probes) {
      auto result = future.get();
      stats_.probes.fetch_add(1);
      NodeHealth h;
      auto previous = health_.find(node);
      if (result.ok()) {
        h = result.value();
        bool seen = previous != health_.end() && previous->second.reachable;
        if (seen) h.previous_offset = previous->second.offset;
        if (h.link_up) {
          h.link_up_since_ms = seen && previous->second.link_up ? previous->second.link_up_since_ms : now_ms;
        }
        if (previous != health_.end() && !previous->second.reachable) {
          spdlog::info("{} answers again ({})", node, h.role);
        }
      } else {
        stats_.probe_failures.fetch_add(1);
        if (previous != health_.end()) h = previous->second;
        if (h.reachable || h.failing_since_ms == 0) {
          spdlog::warn("{} fails probes: {}", node, result.error());
          h.failing_since_ms = now_ms;
        }
        h.reachable = false;
      }
      next[node] = h;
    }
    health_ = std::move(next);
  }
}

bool Prober::StillAsPlanned(const ClusterRecord& cluster, const ShardRecord& shard) {
  auto current = store_->Load(cluster.name);
  const auto* record = std::get_if<ClusterRecord>(&current);
  const ShardRecord* now = record == nullptr ? nullptr : record->FindShard(shard.id);
  if (now == nullptr || now->master != shard.master) return false;
  return now->switching_to.empty() || now->switching_until_ms <= WallClockMs();
}

void Prober::UndoNewMaster(const ClusterRecord& cluster, const ShardRecord& shard,
                           const std::string& promoted) {
  // Its promotion failed (it died meanwhile): the record names the former
  // master again, still down, so the next round picks among the replicas
  // that follow it, rather than waiting for this one to count as failed.
  auto result = store_->Update(
      cluster.name,
      [&](ClusterRecord* record) -> std::optional<StoreError> {
        ShardRecord* s = record->FindShard(shard.id);
        if (s == nullptr || s->master != promoted) return StoreError{409, "shard changed meanwhile"};
        s->master = shard.master;
        return std::nullopt;
      },
      lease_->Guard());
  if (auto* error = std::get_if<StoreError>(&result)) {
    spdlog::warn("cluster {} shard {}: {} left recorded as master: {}", cluster.name, shard.id, promoted,
                 error->message);
  }
}

void Prober::CarryOut(const ClusterRecord& cluster, const ShardRecord& shard, const ShardPlan& plan) {
  // The plan comes from the cache and this round's probes: act only if etcd
  // still holds the shard as planned (another instance may have begun a
  // switchover, or recorded a failover, since the cache was read).
  if (!StillAsPlanned(cluster, shard)) return;
  const bool new_master = !plan.promote.empty() && plan.promote != shard.master;
  const std::string master = plan.promote.empty() ? shard.master : plan.promote;
  // Record first, then promote: proxies switch at once, and a promotion
  // that stops half way (this instance dies, the server does not answer)
  // leaves a recorded master that replicates, which a later round promotes
  // again, rather than an unrecorded master that a later failover would
  // pass over for a replica with less data. A re-pointed node enters the
  // read set only later, once in sync (mark_up in a following round).
  if (new_master || !plan.mark_down.empty() || !plan.mark_up.empty()) {
    auto result = store_->Update(
        cluster.name,
        [&](ClusterRecord* record) -> std::optional<StoreError> {
          ShardRecord* s = record->FindShard(shard.id);
          if (s == nullptr || s->master != shard.master) {
            return StoreError{409, "shard changed meanwhile"};
          }
          if (new_master) {
            s->master = plan.promote;
            s->MarkUp(plan.promote);
          }
          for (const auto& n : plan.mark_down) s->MarkDown(n);
          for (const auto& n : plan.mark_up) s->MarkUp(n);
          return std::nullopt;
        },
        lease_->Guard());
    if (auto* error = std::get_if<StoreError>(&result)) {
      spdlog::warn("cluster {} shard {}: not recorded: {}", cluster.name, shard.id, error->message);
      return;
    }
    const auto& written = std::get<ClusterRecord>(result);
    if (new_master) {
      stats_.failovers.fetch_add(1);
      bool failed_over =
          std::find(plan.mark_down.begin(), plan.mark_down.end(), shard.master) != plan.mark_down.end();
      if (failed_over) {
        spdlog::warn("cluster {} shard {}: master {} down for {} ms: failing over to {}, epoch {}",
                     cluster.name, shard.id, shard.master, options_.down_after.count(), master,
                     written.epoch);
      } else {
        spdlog::warn("cluster {} shard {}: {} replicates {}, already master: recorded as master, epoch {}",
                     cluster.name, shard.id, shard.master, master, written.epoch);
      }
    }
    for (const auto& n : plan.mark_down) {
      spdlog::warn("cluster {} shard {}: {} leaves the read set, epoch {}", cluster.name, shard.id, n,
                   written.epoch);
    }
    for (const auto& n : plan.mark_up) {
      spdlog::info("cluster {} shard {}: {} is in sync and back in the read set, epoch {}", cluster.name,
                   shard.id, n, written.epoch);
    }
  }
  if (!plan.promote.empty()) {
    if (!new_master) {
      spdlog::warn("cluster {} shard {}: master {} replicates: making it master again", cluster.name,
                   shard.id, master);
    }
    if (Status s = control_->Promote(master); !s.ok()) {
      spdlog::error("cluster {} shard {}: promoting {} failed: {}", cluster.name, shard.id, master,
                    s.message());
      if (new_master) UndoNewMaster(cluster, shard, master);
      return;
    }
  }
  for (const auto& node : plan.follow) {
    if (Status s = control_->Follow(node, master); !s.ok()) {
      spdlog::warn("cluster {} shard {}: cannot make {} replicate {}: {}", cluster.name, shard.id, node,
                   master, s.message());
      continue;
    }
    stats_.repoints.fetch_add(1);
    spdlog::info("cluster {} shard {}: {} now replicates {}", cluster.name, shard.id, node, master);
  }
}

}  // namespace redkube::configserver
