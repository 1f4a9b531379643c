#include "configserver/cluster_operations.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

namespace redkube::configserver {
namespace {

std::optional<StoreError> CheckAddress(const std::string& node) {
  auto address = ParseHostPort(node);
  if (!address.ok()) return StoreError{400, address.error()};
  return std::nullopt;
}

}  // namespace

ClusterOperations::ClusterOperations(ClusterStore* store, const ReplicationControl* control,
                                     std::chrono::milliseconds switchover_timeout)
    : store_(store), control_(control), switchover_timeout_(switchover_timeout) {}

OperationResult ClusterOperations::RegisterShard(const std::string& cluster, const std::string& shard_id,
                                                 const std::vector<std::string>& nodes) {
  if (nodes.empty()) return StoreError{400, "\"nodes\" must list at least one host:port"};
  std::set<std::string> unique;
  for (const auto& n : nodes) {
    if (auto bad = CheckAddress(n)) return *bad;
    if (!unique.insert(n).second) return StoreError{400, "node " + n + " is listed twice"};
  }
  auto current = store_->Load(cluster);
  if (auto* e = std::get_if<StoreError>(&current)) return *e;
  const auto& record = std::get<ClusterRecord>(current);
  const ShardRecord* shard = record.FindShard(shard_id);
  if (shard == nullptr) return StoreError{404, "cluster " + cluster + " has no shard " + shard_id};
  for (const auto& other : record.shards) {
    if (other.id == shard_id) continue;
    for (const auto& n : nodes) {
      if (other.HasNode(n)) return StoreError{409, n + " already belongs to shard " + other.id};
    }
  }
  std::string master = shard->master.empty() ? nodes.front() : shard->master;
  if (!unique.count(master)) {
    return StoreError{409, "shard " + shard_id + "'s master " + master +
                               " is not in the list; switch over or remove it first"};
  }
  // One probe per node: it must answer, and its role decides what to do.
  std::map<std::string, NodeHealth> health;
  for (const auto& n : nodes) {
    auto h = control_->Probe(n);
    if (!h.ok()) return StoreError{400, "cannot reach " + n + ": " + h.error()};
    health[n] = h.value();
  }
  if (shard->master.empty() && health[master].role != "master") {
    if (Status s = control_->Promote(master); !s.ok()) return StoreError{502, s.message()};
  }
  std::vector<std::string> joining;
  for (const auto& n : nodes) {
    if (n == master) continue;
    const NodeHealth& h = health[n];
    if (h.role == "slave" && h.replicating_from == master) {
      if (!shard->HasNode(n) && !h.link_up) joining.push_back(n);
      continue;
    }
    if (Status s = control_->Follow(n, master); !s.ok()) return StoreError{502, s.message()};
    joining.push_back(n);
  }
  return store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    ShardRecord* s = r->FindShard(shard_id);
    if (s == nullptr) return StoreError{404, "shard " + shard_id + " disappeared"};
    if (s->master != shard->master) return StoreError{409, "shard " + shard_id + " changed meanwhile; retry"};
    // Nodes no longer listed leave; new replicas stay out of the read set
    // until their link is up (the prober marks them up).
    for (const auto& n : std::vector<std::string>(s->nodes)) {
      if (!unique.count(n)) s->RemoveNode(n);
    }
    s->master = master;
    s->nodes = nodes;
    for (const auto& n : joining) s->MarkDown(n);
    return std::nullopt;
  });
}

OperationResult ClusterOperations::AddNode(const std::string& cluster, const std::string& shard_id,
                                           const std::string& node) {
  if (auto bad = CheckAddress(node)) return *bad;
  auto current = store_->Load(cluster);
  if (auto* e = std::get_if<StoreError>(&current)) return *e;
  const ShardRecord* shard = std::get<ClusterRecord>(current).FindShard(shard_id);
  if (shard == nullptr) return StoreError{404, "cluster " + cluster + " has no shard " + shard_id};
  if (shard->master.empty())
    return StoreError{409, "shard " + shard_id + " has no nodes yet; register it first"};
  std::vector<std::string> nodes = shard->nodes;
  if (!shard->HasNode(node)) nodes.push_back(node);
  return RegisterShard(cluster, shard_id, nodes);
}

OperationResult ClusterOperations::RemoveNode(const std::string& cluster, const std::string& shard_id,
                                              const std::string& node) {
  auto current = store_->Load(cluster);
  if (auto* e = std::get_if<StoreError>(&current)) return *e;
  const ShardRecord* shard = std::get<ClusterRecord>(current).FindShard(shard_id);
  if (shard == nullptr) return StoreError{404, "cluster " + cluster + " has no shard " + shard_id};
  if (!shard->HasNode(node)) return StoreError{404, node + " is not a node of shard " + shard_id};
  if (shard->nodes.size() == 1) {
    return StoreError{409, node + " is the only node of shard " + shard_id + "; it cannot be removed"};
  }
  if (shard->master == node) {
    auto switched = Switchover(cluster, shard_id, "");
    if (std::holds_alternative<StoreError>(switched)) return switched;
  }
  return store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    ShardRecord* s = r->FindShard(shard_id);
    if (s == nullptr) return StoreError{404, "shard " + shard_id + " disappeared"};
    if (s->master == node) return StoreError{409, node + " became master again meanwhile; retry"};
    s->RemoveNode(node);
    return std::nullopt;
  });
}

std::variant<std::string, StoreError> ClusterOperations::ChooseTarget(const ShardRecord& shard,
                                                                      const std::string& requested) const {
  if (!requested.empty()) {
    if (!shard.HasNode(requested)) return StoreError{400, requested + " is not a node of shard " + shard.id};
    if (requested == shard.master) return StoreError{409, requested + " is already the master"};
    if (shard.IsDown(requested)) return StoreError{409, requested + " is down or not in sync"};
    return requested;
  }
  std::string best;
  int64_t best_offset = -1;
  for (const auto& n : shard.nodes) {
    if (n == shard.master || shard.IsDown(n)) continue;
    auto h = control_->Probe(n);
    if (!h.ok() || h->role != "slave" || h->replicating_from != shard.master || !h->link_up) continue;
    if (h->offset > best_offset) {
      best = n;
      best_offset = h->offset;
    }
  }
  if (best.empty()) return StoreError{409, "shard " + shard.id + " has no in-sync replica to switch to"};
  return best;
}

OperationResult ClusterOperations::Switchover(const std::string& cluster, const std::string& shard_id,
                                              const std::string& requested) {
  auto current = store_->Load(cluster);
  if (auto* e = std::get_if<StoreError>(&current)) return *e;
  const ShardRecord* found = std::get<ClusterRecord>(current).FindShard(shard_id);
  if (found == nullptr) return StoreError{404, "cluster " + cluster + " has no shard " + shard_id};
  ShardRecord shard = *found;
  if (shard.master.empty()) return StoreError{409, "shard " + shard_id + " has no master yet"};
  auto chosen = ChooseTarget(shard, requested);
  if (auto* e = std::get_if<StoreError>(&chosen)) return *e;
  std::string target = std::get<std::string>(chosen);
  std::string old_master = shard.master;

  // Hold the shard so the prober leaves the promotion alone.
  auto held = store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    ShardRecord* s = r->FindShard(shard_id);
    if (s == nullptr || s->master != old_master)
      return StoreError{409, "shard " + shard_id + " changed meanwhile; retry"};
    if (!s->switching_to.empty() && s->switching_until_ms > WallClockMs()) {
      return StoreError{409, "a switchover of shard " + shard_id + " is already running"};
    }
    s->switching_to = target;
    s->switching_until_ms = WallClockMs() + switchover_timeout_.count() + 5000;
    return std::nullopt;
  });
  if (std::holds_alternative<StoreError>(held)) return held;
  auto release = [&](bool switched) {
    return store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
      ShardRecord* s = r->FindShard(shard_id);
      if (s == nullptr) return StoreError{404, "shard " + shard_id + " disappeared"};
      s->switching_to.clear();
      s->switching_until_ms = 0;
      if (switched && s->master == old_master) {
        s->master = target;
        s->MarkUp(target);
      }
      return std::nullopt;
    });
  };

  spdlog::info("cluster {} shard {}: switching over from {} to {}", cluster, shard_id, old_master, target);
  if (Status s = control_->StartFailover(old_master, target, switchover_timeout_); !s.ok()) {
    release(false);
    return StoreError{409, "switchover refused: " + s.message()};
  }
  // FAILOVER answers at once; the swap is done when the target is master.
  auto deadline = std::chrono::steady_clock::now() + switchover_timeout_ + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    auto h = control_->Probe(target);
    if (h.ok() && h->role == "master") {
      auto result = release(true);
      if (auto* r = std::get_if<ClusterRecord>(&result)) {
        spdlog::info("cluster {} shard {}: {} is master, epoch {}", cluster, shard_id, target, r->epoch);
      }
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  control_->AbortFailover(old_master);
  release(false);
  return StoreError{504, "switchover to " + target + " did not complete in time; aborted"};
}

}  // namespace redkube::configserver
