#include "configserver/prober.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "configserver/server_settings.h"

namespace redkube::configserver {
namespace {

// When a replica last heard from its master (NodeHealth::contact_ms).
// redis-server counts master_last_io_seconds_ago in whole seconds of a
// clock that is itself whole seconds, so a reading of N means anything from
// N-1 to N+1 s ago: N+1 is assumed. An offset that moved since the
// previous probe proves contact after that probe, finer than the counter
// (a master PINGs its replicas every second, so it moves at least that
// often). While the link is down the last estimate made while it was up is
// kept: a link that repl-timeout closed went silent long before it went
// down. Only a replica never seen with its link up (a new leader's first
// look) is judged by master_link_down_since_seconds (read as N s ago),
// which cannot tell a master that died (the link went down at once) from a
// silent link that timed out; a gap written down in docs/configserver.md.
int64_t EstimateContact(const NodeHealth& now, const NodeHealth* before, int64_t now_ms) {
  const bool same_master =
      before != nullptr && before->role == "slave" && before->replicating_from == now.replicating_from;
  int64_t contact = same_master ? before->contact_ms : 0;
  if (now.link_up && now.master_last_io_s >= 0) {
    contact = std::max(contact, now_ms - (now.master_last_io_s + 1) * 1000);
  }
  if (same_master && before->reachable && now.offset > before->offset) {
    contact = std::max(contact, before->probed_ms);
  }
  if (!now.link_up && contact == 0 && now.link_down_since_s >= 0) {
    contact = now_ms - now.link_down_since_s * 1000;
  }
  return contact;
}

}  // namespace

Prober::Prober(ClusterStore* store, const LeaderLease* lease, const ReplicationControl* control,
               const ProxyRegistry* proxies, ProberOptions options)
    : store_(store),
      lease_(lease),
      control_(control),
      proxies_(proxies),
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

std::map<std::string, std::string> Prober::AlertsSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> alerts;
  for (const auto& [key, reason] : stuck_) {
    if (!reason.empty()) alerts[key] = reason;
  }
  return alerts;
}

void Prober::Round() {
  if (!lease_->IsLeader()) {
    // A new term starts from fresh observations.
    {
      std::lock_guard<std::mutex> lock(mu_);
      health_.clear();
      stuck_.clear();
    }
    clients_.clear();
    links_configured_.clear();
    min_replicas_.clear();
    settings_applied_.clear();
    return;
  }
  auto clusters = store_->CachedAll();
  int64_t now = WallClockMs();
  ProbeAll(clusters, now);
  auto health = HealthSnapshot();
  for (const auto& cluster : clusters) {
    // The proxies' reports matter only to a shard whose master fails our
    // probes or that is fenced (PlanShard reads them nowhere else): a
    // healthy cluster costs no etcd read per round. Without them no
    // failover is safe to plan (a proxy may still reach the master); etcd
    // is unreachable then anyway.
    const bool needs_reports =
        std::any_of(cluster.shards.begin(), cluster.shards.end(), [&](const ShardRecord& s) {
          auto h = health.find(s.master);
          return s.fenced || (h != health.end() && !h->second.reachable);
        });
    Result<std::vector<ProxyReport>> proxies = std::vector<ProxyReport>{};
    if (needs_reports) proxies = proxies_->Live(cluster.name);
    if (!proxies.ok()) continue;
    for (const auto& shard : cluster.shards) {
      if (!lease_->IsLeader()) break;
      ShardPlan plan = PlanShard(shard, health, now, options_.down_after.count(), proxies.value());
      std::string key = cluster.name + "/" + shard.id;
      std::string alert = !plan.stuck.empty()         ? plan.stuck
                          : !plan.partitioned.empty() ? plan.partitioned
                                                      : "";
      bool changed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        changed = stuck_[key] != alert;
        stuck_[key] = alert;
      }
      if (changed && !alert.empty()) {
        spdlog::error("cluster {} shard {}: {}", cluster.name, shard.id, alert);
        if (!plan.partitioned.empty()) stats_.partitions.fetch_add(1);
      }
      if (!plan.Empty()) CarryOut(cluster, shard, plan);
    }
  }
  KeepSettings(clusters);
  stats_.rounds.fetch_add(1);
}

void Prober::KeepSettings(const std::vector<ClusterRecord>& clusters) {
  auto health = HealthSnapshot();
  for (const auto& [node, h] : health) {
    // A node that is not master (now) will be set again once it is: a
    // switchover or a failover may have changed it without us.
    if (!h.reachable || h.role != "master") min_replicas_.erase(node);
    if (!h.reachable) {
      links_configured_.erase(node);
      settings_applied_.erase(node);
    } else if (!links_configured_.count(node)) {
      if (Status s = control_->ConfigureLinks(node); s.ok()) {
        links_configured_.insert(node);
      } else {
        spdlog::warn("{}: cannot set its replication links up: {}", node, s.message());
      }
    }
  }
  KeepServerSettings(clusters, health);
  for (const auto& cluster : clusters) {
    for (const auto& shard : cluster.shards) {
      auto master = health.find(shard.master);
      if (shard.master.empty() || master == health.end() || !master->second.reachable ||
          master->second.role != "master") {
        continue;
      }
      // A replica in the read set that we see streaming from the master
      // now. One we cannot reach, or whose link is down or silent, does not
      // count: the master must not refuse writes for want of it.
      int in_sync = 0;
      for (const auto& node : shard.nodes) {
        auto h = health.find(node);
        if (node == shard.master || shard.IsDown(node) || h == health.end()) continue;
        const NodeHealth& r = h->second;
        if (r.reachable && r.role == "slave" && r.replicating_from == shard.master && r.link_up &&
            r.master_last_io_s >= 0 && r.master_last_io_s <= ReplicationControl::kMinReplicasMaxLagS) {
          ++in_sync;
        }
      }
      const int want = in_sync > 0 ? 1 : 0;
      auto set = min_replicas_.find(shard.master);
      if (set != min_replicas_.end() && set->second == want) continue;
      if (Status s = control_->SetMinReplicas(shard.master, want); !s.ok()) {
        spdlog::warn("cluster {} shard {}: cannot set min-replicas-to-write {} on {}: {}", cluster.name,
                     shard.id, want, shard.master, s.message());
        continue;
      }
      if (set != min_replicas_.end() || want == 0) {
        spdlog::info("cluster {} shard {}: master {} now needs {} replica(s) in sync to accept writes",
                     cluster.name, shard.id, shard.master, want);
      }
      min_replicas_[shard.master] = want;
    }
  }
}

void Prober::KeepServerSettings(const std::vector<ClusterRecord>& clusters,
                                const std::map<std::string, NodeHealth>& health) {
  for (const auto& cluster : clusters) {
    if (cluster.server_settings.empty()) continue;
    for (const auto& shard : cluster.shards) {
      for (const auto& node : shard.nodes) {
        auto h = health.find(node);
        auto client = clients_.find(node);
        if (h == health.end() || !h->second.reachable || client == clients_.end() || !client->second)
          continue;
        auto applied = settings_applied_.find(node);
        if (applied != settings_applied_.end() && applied->second == cluster.settings_version) continue;
        // Recorded either way: a refusal is logged once per version, not
        // every round (the server keeps refusing until it restarts).
        settings_applied_[node] = cluster.settings_version;
        if (Status s = SetServerSettings(client->second.get(), cluster.server_settings); !s.ok()) {
          spdlog::error("cluster {} shard {}: {} refuses the kept settings (version {}): {}", cluster.name,
                        shard.id, node, cluster.settings_version, s.message());
          continue;
        }
        spdlog::info("cluster {} shard {}: {} given the kept settings (version {}, {} parameter(s))",
                     cluster.name, shard.id, node, cluster.settings_version, cluster.server_settings.size());
      }
    }
  }
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
        h.probed_ms = now_ms;
        bool seen = previous != health_.end() && previous->second.reachable;
        if (seen) h.previous_offset = previous->second.offset;
        if (h.role == "slave")
          h.contact_ms = EstimateContact(h, previous == health_.end() ? nullptr : &previous->second, now_ms);
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

std::optional<ClusterRecord> Prober::WriteFence(const ClusterRecord& cluster, const ShardRecord& shard,
                                                bool fenced) {
  auto result = store_->Update(
      cluster.name,
      [&](ClusterRecord* record) -> std::optional<StoreError> {
        ShardRecord* s = record->FindShard(shard.id);
        if (s == nullptr || s->master != shard.master) return StoreError{409, "shard changed meanwhile"};
        if (s->fenced == fenced) return StoreError{409, fenced ? "already fenced" : "not fenced"};
        s->fenced = fenced;
        // This write changes the published topology, so the store moves
        // the epoch by one: the epoch that carries the fence.
        s->fence_epoch = fenced ? record->epoch + 1 : 0;
        return std::nullopt;
      },
      lease_->Guard());
  if (auto* error = std::get_if<StoreError>(&result)) {
    spdlog::warn("cluster {} shard {}: fence not {}: {}", cluster.name, shard.id, fenced ? "set" : "lifted",
                 error->message);
    return std::nullopt;
  }
  return std::get<ClusterRecord>(result);
}

std::optional<std::vector<ProxyReport>> Prober::AwaitConfirmations(const std::string& cluster,
                                                                   uint64_t epoch) {
  // Proxies apply a topology and report it within milliseconds (their
  // long-poll returns at once and the next one carries the epoch), so a
  // short wait here usually saves a probe round; a proxy that does not
  // confirm is waited for over the following rounds, until it confirms or
  // its registration expires.
  constexpr auto kWait = std::chrono::milliseconds(250);
  constexpr auto kEvery = std::chrono::milliseconds(10);
  auto deadline = std::chrono::steady_clock::now() + kWait;
  std::vector<ProxyReport> last;
  while (true) {
    auto live = proxies_->Live(cluster);
    if (live.ok()) {
      last = std::move(live.value());
      bool all =
          std::all_of(last.begin(), last.end(), [&](const ProxyReport& p) { return p.epoch >= epoch; });
      if (all) return last;
    }
    if (std::chrono::steady_clock::now() >= deadline || !lease_->IsLeader()) return last;
    std::this_thread::sleep_for(kEvery);
  }
}

void Prober::CarryOut(const ClusterRecord& cluster, const ShardRecord& shard, const ShardPlan& plan) {
  // The plan comes from the cache and this round's probes: act only if etcd
  // still holds the shard as planned (another instance may have begun a
  // switchover, or recorded a failover, since the cache was read).
  if (!StillAsPlanned(cluster, shard)) return;
  if (plan.fence) {
    // Fence before promote. Proxies stop sending to the master as soon as
    // they apply this epoch; once every live one has confirmed it (or
    // expired: a proxy that has not heard from us for its lease refuses
    // writes on its own), nothing of theirs can reach the old master while
    // the replica is promoted, so nothing it acknowledges after the
    // replica's last contact is lost.
    auto written = WriteFence(cluster, shard, true);
    if (!written) return;
    stats_.fences.fetch_add(1);
    const ShardRecord* fenced = written->FindShard(shard.id);
    spdlog::warn(
        "cluster {} shard {}: master {} down for {} ms and no live proxy reaches it: fenced, epoch {}",
        cluster.name, shard.id, shard.master, options_.down_after.count(), fenced->fence_epoch);
    auto confirmed = AwaitConfirmations(cluster.name, fenced->fence_epoch);
    if (!confirmed) return;  // the next round reads the reports again
    ShardPlan next =
        PlanShard(*fenced, HealthSnapshot(), WallClockMs(), options_.down_after.count(), *confirmed);
    if (!next.promote.empty() || next.unfence) CarryOut(*written, *fenced, next);
    return;
  }
  if (plan.unfence && plan.promote.empty()) {
    if (WriteFence(cluster, shard, false)) {
      spdlog::warn(
          "cluster {} shard {}: fence lifted: {}", cluster.name, shard.id,
          plan.partitioned.empty() ? "its master " + shard.master + " answers again" : plan.partitioned);
    }
  }
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
            s->fenced = false;  // the new master is open to proxies
            s->fence_epoch = 0;
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
    // Promote sets min-replicas-to-write 0 on the server: what this term
    // remembers of it is void (KeepSettings raises it again once a replica
    // is in sync).
    min_replicas_.erase(master);
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
