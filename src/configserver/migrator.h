// The leader's migration scheduler: every tick it starts the queued
// migrations there is room for (at most `parallel` running per cluster,
// never two from the same source shard: they would share its SCAN and
// its CPU), and keeps one MigrationRunner per running or cancelling
// migration. A standby runs none; a leader that loses its lease stops its
// runners (their writes would be refused anyway).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "configserver/migration_runner.h"
#include "core/periodic_thread.h"

namespace redkube::configserver {

class Migrator {
 public:
  Migrator(ClusterStore* store, const LeaderLease* lease, ProxyRegistry* proxies, MigratorOptions options,
           int parallel);
  ~Migrator();

  void Start();
  void Stop();

 private:
  void Tick();
  void StartQueued(const ClusterRecord& record);

  ClusterStore* store_;
  const LeaderLease* lease_;
  ProxyRegistry* proxies_;
  MigratorOptions options_;
  int parallel_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<MigrationRunner>> runners_;  // (cluster, id)
  PeriodicThread ticker_;  // last: stops before the runners go
};

}  // namespace redkube::configserver
