#include "configserver/migrator.h"

#include <set>

namespace redkube::configserver {

Migrator::Migrator(ClusterStore* store, const LeaderLease* lease, ProxyRegistry* proxies,
                   MigratorOptions options, int parallel)
    : store_(store),
      lease_(lease),
      proxies_(proxies),
      options_(std::move(options)),
      parallel_(parallel),
      ticker_("migrator", std::chrono::milliseconds(100), [this] { Tick(); }) {}

Migrator::~Migrator() { Stop(); }

void Migrator::Start() { ticker_.Start(); }

void Migrator::Stop() {
  ticker_.Stop();
  runners_.clear();  // each joins its thread
}

void Migrator::Tick() {
  for (auto it = runners_.begin(); it != runners_.end();) {
    it = it->second->Finished() ? runners_.erase(it) : std::next(it);
  }
  if (!lease_->IsLeader()) {
    runners_.clear();
    return;
  }
  for (const auto& record : store_->CachedAll()) {
    StartQueued(record);
    for (const auto& m : record.migrations) {
      if (m.state != MigrationState::kRunning && m.state != MigrationState::kCancelling) continue;
      auto key = std::make_pair(record.name, m.id);
      if (runners_.count(key)) continue;
      auto runner = std::make_unique<MigrationRunner>(store_, lease_, proxies_, options_, record.name, m.id);
      runner->Start();
      runners_.emplace(key, std::move(runner));
    }
  }
}

void Migrator::StartQueued(const ClusterRecord& record) {
  int running = 0;
  std::set<std::string> busy_sources;
  for (const auto& m : record.migrations) {
    if (m.state == MigrationState::kRunning || m.state == MigrationState::kCancelling ||
        (m.state == MigrationState::kPaused && !m.step.empty())) {
      ++running;
      busy_sources.insert(m.from);
    }
  }
  std::vector<std::string> starting;
  for (const auto& m : record.migrations) {
    if (running >= parallel_) break;
    if (m.state != MigrationState::kQueued || busy_sources.count(m.from)) continue;
    starting.push_back(m.id);
    busy_sources.insert(m.from);
    ++running;
  }
  if (starting.empty()) return;
  store_->Update(
      record.name,
      [&](ClusterRecord* r) -> std::optional<StoreError> {
        for (const auto& id : starting) {
          MigrationRecord* m = r->FindMigration(id);
          if (m == nullptr || m->state != MigrationState::kQueued) continue;
          m->state = MigrationState::kRunning;
          m->started_ms = WallClockMs();
        }
        return std::nullopt;
      },
      lease_->Guard());
}

}  // namespace redkube::configserver
