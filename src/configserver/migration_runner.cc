#include "configserver/migration_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace redkube::configserver {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kRateWindow = std::chrono::seconds(5);

int InSyncReplicas(const ShardRecord& shard) {
  return static_cast<int>(std::count_if(shard.nodes.begin(), shard.nodes.end(), [&](const std::string& n) {
    return n != shard.master && !shard.IsDown(n);
  }));
}

}  // namespace

MigrationRunner::MigrationRunner(ClusterStore* store, const LeaderLease* lease, ProxyRegistry* proxies,
                                 MigratorOptions options, std::string cluster, std::string id)
    : store_(store),
      lease_(lease),
      proxies_(proxies),
      options_(std::move(options)),
      cluster_(std::move(cluster)),
      id_(std::move(id)),
      flushed_at_(Clock::now()),
      throttle_since_(Clock::now()) {}

MigrationRunner::~MigrationRunner() { Stop(); }

void MigrationRunner::Start() {
  thread_ = std::thread([this] {
    Run();
    finished_ = true;
  });
}

void MigrationRunner::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

bool MigrationRunner::ShouldStop() const { return stopping_.load() || !lease_->IsLeader(); }

void MigrationRunner::Backoff() {
  auto until = Clock::now() + options_.retry_after;
  while (!ShouldStop() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void MigrationRunner::Run() {
  spdlog::info("cluster {}: migration {}: mover started", cluster_, id_);
  while (!ShouldStop() && Iterate()) {
  }
  FlushProgress("", /*now=*/true);
  spdlog::info("cluster {}: migration {}: mover stopped", cluster_, id_);
}

std::optional<StoreError> MigrationRunner::UpdateMigration(
    const std::function<void(ClusterRecord*, MigrationRecord*)>& change) {
  auto result = store_->Update(
      cluster_,
      [&](ClusterRecord* r) -> std::optional<StoreError> {
        MigrationRecord* m = r->FindMigration(id_);
        if (m == nullptr) return StoreError{404, "migration " + id_ + " is gone"};
        change(r, m);
        return std::nullopt;
      },
      lease_->Guard());
  if (auto* e = std::get_if<StoreError>(&result)) return *e;
  return std::nullopt;
}

bool MigrationRunner::Iterate() {
  auto loaded = store_->Load(cluster_);
  if (auto* e = std::get_if<StoreError>(&loaded)) {
    if (e->code == 404) return false;
    Backoff();
    return true;
  }
  const ClusterRecord& record = std::get<ClusterRecord>(loaded);
  const MigrationRecord* found = record.FindMigration(id_);
  if (found == nullptr || found->Finished() || found->state == MigrationState::kPaused) return false;
  const MigrationRecord m = *found;
  if (m.state == MigrationState::kQueued) {
    UpdateMigration([](ClusterRecord*, MigrationRecord* mm) {
      if (mm->state != MigrationState::kQueued) return;
      mm->state = MigrationState::kRunning;
      mm->started_ms = WallClockMs();
    });
    return true;
  }
  if (m.step.empty() || pass_done_for_ == m.step_epoch) {
    if (m.held_keys.empty()) {
      if (Status s = Announce(record, m); !s.ok()) {
        FlushProgress(s.message(), true);
        Backoff();
      }
      return true;
    }
  }
  // A step (or a hold) is announced: nothing moves until every proxy
  // routes by it.
  uint64_t needed = std::max(m.step_epoch, m.held_epoch);
  if (!Confirmed(needed, m)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return true;
  }
  if (!m.held_keys.empty()) {
    if (Status s = MoveHeldKeys(record, m); !s.ok()) {
      spdlog::warn("cluster {}: migration {}: moving a big key: {}", cluster_, id_, s.message());
      FlushProgress(s.message(), true);
      Backoff();
    }
    return true;
  }
  auto pass = MovePass(record, m);
  if (!pass.ok()) {
    spdlog::warn("cluster {}: migration {}: {}", cluster_, id_, pass.error());
    FlushProgress(pass.error(), true);
    Backoff();
    return true;
  }
  if (pass.value() == Pass::kComplete) pass_done_for_ = m.step_epoch;
  return true;
}

bool MigrationRunner::Confirmed(uint64_t epoch, const MigrationRecord& m) {
  auto live = proxies_->Live(cluster_);
  if (!live.ok()) return false;
  std::vector<std::string> lagging;
  for (const auto& p : live.value()) {
    if (p.epoch < epoch) lagging.push_back(fmt::format("{} (epoch {})", p.id, p.epoch));
  }
  if (lagging != m.waiting_for) {
    UpdateMigration([&](ClusterRecord*, MigrationRecord* mm) {
      mm->waiting_for = lagging;
      mm->message = lagging.empty()
                        ? ""
                        : fmt::format("waiting for {} proxies to apply epoch {}", lagging.size(), epoch);
    });
  }
  return lagging.empty();
}

Status MigrationRunner::Announce(const ClusterRecord& record, const MigrationRecord& m) {
  SlotSet done(m.done);
  done.Add(SlotSet(m.step));
  SlotSet remaining(m.slots);
  remaining.Remove(done);
  SlotSet next;
  if (m.state == MigrationState::kRunning) next = remaining.Lowest(options_.slots_per_step);
  // The next step's big keys are held from its first epoch, so no proxy
  // ever hands one over in a single MIGRATE.
  std::vector<std::string> big;
  int64_t surveyed = 0;
  if (!next.Empty()) {
    auto mover = MoverFor(record, m);
    if (!mover) return Status::Error("a shard of the migration has no master");
    uint64_t cursor = 0;
    do {
      if (ShouldStop()) return Status::Ok();
      auto page = mover->Scan(cursor, next);
      if (!page.ok()) return Status::Error("surveying the next step: " + page.error());
      surveyed += static_cast<int64_t>(page->keys.size());
      for (auto& k : page->keys) {
        if (mover->IsBig(k)) big.push_back(std::move(k.key));
      }
      cursor = page->next_cursor;
    } while (cursor != 0);
  }
  const std::vector<SlotRange> step = m.step;
  auto failed = UpdateMigration([&](ClusterRecord* r, MigrationRecord* mm) {
    ShardRecord* from = r->FindShard(mm->from);
    ShardRecord* to = r->FindShard(mm->to);
    if (mm->step != step || from == nullptr || to == nullptr) return;  // changed meanwhile: decide again
    if (!step.empty()) {
      // The flip: the source holds none of the step's keys now.
      SlotSet moved(step);
      SlotSet source(from->slots), target(to->slots), finished(mm->done);
      source.Remove(moved);
      target.Add(moved);
      finished.Add(moved);
      from->slots = source.ToRanges();
      to->slots = target.ToRanges();
      mm->done = finished.ToRanges();
    }
    mm->step = next.ToRanges();
    mm->step_epoch = next.Empty() ? 0 : r->epoch + 1;  // the store moves the epoch by one for this
    mm->held_keys = big;
    mm->held_epoch = big.empty() ? 0 : mm->step_epoch;
    mm->surveyed_slots += next.Count();
    mm->surveyed_keys += surveyed;
    mm->keys_moved += unflushed_keys_;
    mm->bytes_moved += unflushed_bytes_;
    if (next.Empty()) {
      mm->state = remaining.Empty() ? MigrationState::kDone : MigrationState::kCancelled;
      mm->finished_ms = WallClockMs();
      mm->message = remaining.Empty() ? "done" : "cancelled";
      mm->waiting_for.clear();
      mm->keys_per_s = mm->bytes_per_s = 0;
    }
  });
  if (failed) return Status::Error(failed->message);
  unflushed_keys_ = unflushed_bytes_ = 0;
  pass_done_for_ = 0;
  if (next.Empty()) {
    spdlog::info("cluster {}: migration {} {}", cluster_, id_, remaining.Empty() ? "done" : "cancelled");
  } else {
    spdlog::info("cluster {}: migration {}: step of {} slots announced ({} big keys held)", cluster_, id_,
                 next.Count(), big.size());
  }
  return Status::Ok();
}

std::unique_ptr<KeyMover> MigrationRunner::MoverFor(const ClusterRecord& record,
                                                    const MigrationRecord& m) const {
  const ShardRecord* from = record.FindShard(m.from);
  const ShardRecord* to = record.FindShard(m.to);
  if (from == nullptr || to == nullptr || from->master.empty() || to->master.empty()) return nullptr;
  auto source = ParseHostPort(from->master), target = ParseHostPort(to->master);
  if (!source.ok() || !target.ok()) return nullptr;
  return std::make_unique<KeyMover>(source.value(), InSyncReplicas(*from), target.value(),
                                    InSyncReplicas(*to), options_.mover);
}

Status MigrationRunner::MoveHeldKeys(const ClusterRecord& record, const MigrationRecord& m) {
  auto mover = MoverFor(record, m);
  if (!mover) return Status::Error("a shard of the migration has no master");
  for (size_t i = 0; i < m.held_keys.size(); ++i) {
    const std::string& key = m.held_keys[i];
    FlushProgress(fmt::format("moving big key {} of {} in chunks", i + 1, m.held_keys.size()), true);
    if (Status s = mover->CopyBigKey(key); !s.ok()) return s;
    Count(1, 0);
  }
  auto failed = UpdateMigration([&](ClusterRecord*, MigrationRecord* mm) {
    if (mm->held_keys != m.held_keys) return;
    mm->held_keys.clear();
    mm->held_epoch = 0;  // the release moves the epoch: proxies let the key's requests go
    mm->message.clear();
  });
  if (failed) return Status::Error(failed->message);
  return Status::Ok();
}

Result<MigrationRunner::Pass> MigrationRunner::MovePass(const ClusterRecord& record,
                                                        const MigrationRecord& m) {
  auto mover = MoverFor(record, m);
  if (!mover) return Status::Error("a shard of the migration has no master");
  const ShardRecord* from = record.FindShard(m.from);
  const ShardRecord* to = record.FindShard(m.to);
  const std::string source = from->master, target = to->master;
  SlotSet step(m.step);
  if (!unsettled_.empty()) {
    // A batch copied before a failure is finished, not copied again. After
    // a target failover the new master may lack it: the pass copies it.
    if (unsettled_target_ == target) {
      if (Status s = mover->Settle(unsettled_); !s.ok()) return s;
    }
    unsettled_.clear();
  }
  std::vector<std::string> found_big;
  std::vector<FoundKey> pending;  // found, not moved yet
  int64_t pending_bytes = 0;
  uint64_t cursor = 0;
  do {
    if (ShouldStop()) return Pass::kInterrupted;
    // Pause, and a master changed by a failover, show in the cache.
    auto now = store_->Cached(cluster_);
    if (now) {
      const MigrationRecord* mm = now->FindMigration(id_);
      if (mm == nullptr || mm->state == MigrationState::kPaused) return Pass::kInterrupted;
      const ShardRecord* f = now->FindShard(m.from);
      const ShardRecord* t = now->FindShard(m.to);
      if (f == nullptr || t == nullptr || f->master != source || t->master != target) {
        return Status::Error("a master changed (failover): the step's pass starts again");
      }
      if (!Throttle(mm->throttle, 0, 0)) return Pass::kInterrupted;
    }
    auto page = mover->Scan(cursor, step);
    if (!page.ok()) return page.status();
    for (auto& k : page->keys) {
      if (mover->IsBig(k)) {
        found_big.push_back(std::move(k.key));
        continue;
      }
      pending_bytes += k.bytes;
      pending.push_back(std::move(k));
    }
    cursor = page->next_cursor;
    // A SCAN page holds few keys of one step: batches gather over pages.
    const bool last = cursor == 0;
    if (!pending.empty() && (last || static_cast<int>(pending.size()) >= options_.mover.batch_keys ||
                             pending_bytes >= options_.mover.batch_bytes)) {
      const auto limit = now ? now->FindMigration(id_)->throttle : ::redkube::configserver::Throttle{};
      if (!Throttle(limit, static_cast<int64_t>(pending.size()), pending_bytes)) return Pass::kInterrupted;
      if (Status s = mover->MoveKeys(pending); !s.ok()) {
        unsettled_ = mover->unsettled();
        unsettled_target_ = target;
        return s;
      }
      Count(static_cast<int64_t>(pending.size()), pending_bytes);
      pending.clear();
      pending_bytes = 0;
    }
    FlushProgress("", false);
  } while (cursor != 0);
  if (found_big.empty()) return Pass::kComplete;
  // Keys that grew big since the survey: hold them too, then pass again.
  auto failed = UpdateMigration([&](ClusterRecord* r, MigrationRecord* mm) {
    mm->held_keys = found_big;
    mm->held_epoch = r->epoch + 1;
  });
  if (failed) return Status::Error(failed->message);
  return Pass::kFoundBigKeys;
}

bool MigrationRunner::Throttle(const ::redkube::configserver::Throttle& limit, int64_t keys, int64_t bytes) {
  if (!(limit == throttle_seen_)) {
    throttle_seen_ = limit;
    throttle_since_ = Clock::now();
    throttle_keys_ = throttle_bytes_ = 0;
  }
  throttle_keys_ += keys;
  throttle_bytes_ += bytes;
  double need_s = 0;
  if (limit.keys_per_s > 0) need_s = std::max(need_s, static_cast<double>(throttle_keys_) / limit.keys_per_s);
  if (limit.bytes_per_s > 0)
    need_s = std::max(need_s, static_cast<double>(throttle_bytes_) / limit.bytes_per_s);
  auto until =
      throttle_since_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(need_s));
  while (Clock::now() < until) {
    if (ShouldStop()) return false;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(20)));
  }
  return true;
}

void MigrationRunner::Count(int64_t keys, int64_t bytes) {
  unflushed_keys_ += keys;
  unflushed_bytes_ += bytes;
  samples_.push_back({Clock::now(), keys, bytes});
  while (!samples_.empty() && samples_.front().at < Clock::now() - kRateWindow) samples_.pop_front();
}

void MigrationRunner::FlushProgress(const std::string& message, bool now) {
  if (!now && Clock::now() - flushed_at_ < options_.progress_every) return;
  flushed_at_ = Clock::now();
  double keys = 0, bytes = 0;
  for (const auto& s : samples_) {
    keys += static_cast<double>(s.keys);
    bytes += static_cast<double>(s.bytes);
  }
  double window =
      samples_.empty()
          ? 1.0
          : std::max(1.0, std::chrono::duration<double>(Clock::now() - samples_.front().at).count());
  auto failed = UpdateMigration([&](ClusterRecord*, MigrationRecord* mm) {
    mm->keys_moved += unflushed_keys_;
    mm->bytes_moved += unflushed_bytes_;
    if (mm->Finished()) return;
    mm->keys_per_s = keys / window;
    mm->bytes_per_s = bytes / window;
    if (!mm->Finished() && mm->state != MigrationState::kPaused) mm->message = message;
  });
  if (!failed) unflushed_keys_ = unflushed_bytes_ = 0;
}

}  // namespace redkube::configserver
