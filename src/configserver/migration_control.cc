#include "configserver/migration_control.h"

#include <spdlog/spdlog.h>

#include "configserver/rebalance_planner.h"
#include "configserver/slot_set.h"

namespace redkube::configserver {
namespace {

// Finished migrations kept in the record for `GET .../migrations`.
constexpr size_t kFinishedKept = 32;

bool InUnfinishedMigration(const ClusterRecord& r, const std::string& shard) {
  return std::any_of(r.migrations.begin(), r.migrations.end(),
                     [&](const auto& m) { return !m.Finished() && (m.from == shard || m.to == shard); });
}

SlotSet SlotsInUnfinishedMigrations(const ClusterRecord& r) {
  SlotSet moving;
  for (const auto& m : r.migrations) {
    if (m.Finished()) continue;
    SlotSet left(m.slots);
    left.Remove(SlotSet(m.done));
    moving.Add(left);
  }
  return moving;
}

std::optional<StoreError> CheckMigration(const ClusterRecord& r, const std::string& from,
                                         const std::string& to, const SlotSet& slots) {
  const ShardRecord* source = r.FindShard(from);
  const ShardRecord* target = r.FindShard(to);
  if (source == nullptr) return StoreError{404, "no shard " + from};
  if (target == nullptr) return StoreError{404, "no shard " + to};
  if (from == to) return StoreError{400, "a migration needs two different shards"};
  if (source->master.empty() || target->master.empty()) {
    return StoreError{409, "both shards need a registered master before slots can move"};
  }
  if (slots.Empty()) return StoreError{400, "\"slots\" must name at least one slot"};
  if (!SlotSet(source->slots).ContainsAll(slots)) {
    return StoreError{409, "shard " + from + " does not own every slot listed"};
  }
  if (SlotsInUnfinishedMigrations(r).Intersects(slots)) {
    return StoreError{409, "some of these slots are already in a migration"};
  }
  return std::nullopt;
}

MigrationRecord NewMigration(ClusterRecord* r, const std::string& from, const std::string& to,
                             const SlotSet& slots, const Throttle& throttle) {
  MigrationRecord m;
  m.id = "m-" + std::to_string(++r->migrations_created);
  m.from = from;
  m.to = to;
  m.slots = slots.ToRanges();
  m.throttle = throttle;
  m.created_ms = WallClockMs();
  return m;
}

}  // namespace

std::variant<ClusterRecord, StoreError> MigrationControl::AddShard(const std::string& cluster,
                                                                   const std::string& shard) {
  if (!ValidName(shard)) return StoreError{400, "a shard id is 1-63 characters of a-z, 0-9 and -"};
  return store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    if (r->FindShard(shard) != nullptr) return StoreError{409, "shard " + shard + " already exists"};
    if (r->shards.size() >= 1024) return StoreError{409, "a cluster has at most 1024 shards"};
    ShardRecord s;
    s.id = shard;
    r->shards.push_back(std::move(s));
    return std::nullopt;
  });
}

std::variant<ClusterRecord, StoreError> MigrationControl::DeleteShard(const std::string& cluster,
                                                                      const std::string& shard) {
  return store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    const ShardRecord* s = r->FindShard(shard);
    if (s == nullptr) return StoreError{404, "no shard " + shard};
    if (!s->slots.empty()) {
      return StoreError{409, "shard " + shard + " still owns " + std::to_string(SlotSet(s->slots).Count()) +
                                 " slots; move them away first (rebalance without it)"};
    }
    if (InUnfinishedMigration(*r, shard)) return StoreError{409, "shard " + shard + " is in a migration"};
    if (r->shards.size() == 1) return StoreError{409, "the last shard of a cluster cannot be deleted"};
    r->shards.erase(r->shards.begin() + (s - r->shards.data()));
    return std::nullopt;
  });
}

MigrationResult MigrationControl::Start(const std::string& cluster, const std::string& from,
                                        const std::string& to, const std::vector<SlotRange>& slots,
                                        const Throttle& throttle) {
  MigrationRecord made;
  auto result = store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    SlotSet set(slots);
    if (auto bad = CheckMigration(*r, from, to, set)) return bad;
    made = NewMigration(r, from, to, set, throttle);
    r->migrations.push_back(made);
    r->TrimFinishedMigrations(kFinishedKept);
    return std::nullopt;
  });
  if (auto* e = std::get_if<StoreError>(&result)) return *e;
  spdlog::info("cluster {}: migration {} queued: {} slots from {} to {}", cluster, made.id,
               SlotSet(made.slots).Count(), from, to);
  return made;
}

std::variant<std::vector<MigrationRecord>, StoreError> MigrationControl::Rebalance(
    const std::string& cluster, std::vector<std::string> keep, const Throttle& throttle) {
  std::vector<MigrationRecord> made;
  auto result = store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    made.clear();
    if (std::any_of(r->migrations.begin(), r->migrations.end(),
                    [](const auto& m) { return !m.Finished(); })) {
      return StoreError{409, "migrations are in progress; wait for them, or cancel them, first"};
    }
    std::vector<std::string> kept = keep;
    if (kept.empty()) {
      for (const auto& s : r->shards) {
        if (!s.master.empty()) kept.push_back(s.id);
      }
    }
    auto plan = PlanRebalance(*r, kept);
    if (!plan.ok()) return StoreError{400, plan.error()};
    for (const auto& move : plan.value()) {
      made.push_back(NewMigration(r, move.from, move.to, SlotSet(move.slots), throttle));
      r->migrations.push_back(made.back());
    }
    r->TrimFinishedMigrations(kFinishedKept);
    return std::nullopt;
  });
  if (auto* e = std::get_if<StoreError>(&result)) return *e;
  spdlog::info("cluster {}: rebalance queued {} migrations", cluster, made.size());
  return made;
}

MigrationResult MigrationControl::Modify(const std::string& cluster, const std::string& id,
                                         const Change& change) {
  MigrationRecord after;
  auto result = store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    MigrationRecord* m = r->FindMigration(id);
    if (m == nullptr) return StoreError{404, "no migration " + id + " in cluster " + cluster};
    if (auto refused = change(m)) return refused;
    after = *m;
    return std::nullopt;
  });
  if (auto* e = std::get_if<StoreError>(&result)) return *e;
  return after;
}

MigrationResult MigrationControl::Pause(const std::string& cluster, const std::string& id) {
  return Modify(cluster, id, [](MigrationRecord* m) -> std::optional<StoreError> {
    if (m->state == MigrationState::kPaused) return std::nullopt;
    if (m->state != MigrationState::kQueued && m->state != MigrationState::kRunning) {
      return StoreError{
          409, std::string("a migration that is ") + MigrationStateName(m->state) + " cannot be paused"};
    }
    m->state = MigrationState::kPaused;
    m->message = "paused";
    return std::nullopt;
  });
}

MigrationResult MigrationControl::Resume(const std::string& cluster, const std::string& id) {
  return Modify(cluster, id, [](MigrationRecord* m) -> std::optional<StoreError> {
    if (m->state == MigrationState::kRunning || m->state == MigrationState::kQueued) return std::nullopt;
    if (m->state != MigrationState::kPaused) {
      return StoreError{
          409, std::string("a migration that is ") + MigrationStateName(m->state) + " cannot be resumed"};
    }
    m->state = m->started_ms > 0 ? MigrationState::kRunning : MigrationState::kQueued;
    m->message.clear();
    return std::nullopt;
  });
}

MigrationResult MigrationControl::Cancel(const std::string& cluster, const std::string& id) {
  return Modify(cluster, id, [](MigrationRecord* m) -> std::optional<StoreError> {
    if (m->state == MigrationState::kCancelling || m->state == MigrationState::kCancelled)
      return std::nullopt;
    if (m->Finished()) {
      return StoreError{409, std::string("the migration is already ") + MigrationStateName(m->state)};
    }
    // Nothing announced: it ends now. A step in flight finishes first
    // (docs/migration.md: moving it back would need another barrier).
    if (m->step.empty()) {
      m->state = MigrationState::kCancelled;
      m->finished_ms = WallClockMs();
      m->message = "cancelled";
    } else {
      m->state = MigrationState::kCancelling;
      m->message = "cancelling: finishing the step in flight";
    }
    return std::nullopt;
  });
}

MigrationResult MigrationControl::SetThrottle(const std::string& cluster, const std::string& id,
                                              const Throttle& throttle) {
  if (throttle.keys_per_s < 0 || throttle.bytes_per_s < 0) {
    return StoreError{400, "throttle values must be 0 (unlimited) or more"};
  }
  return Modify(cluster, id, [&](MigrationRecord* m) -> std::optional<StoreError> {
    if (m->Finished()) return StoreError{409, "the migration has finished"};
    m->throttle = throttle;
    return std::nullopt;
  });
}

}  // namespace redkube::configserver
