// The API's changes to migrations and to the set of shards: add an empty
// shard, delete an empty one, start a migration, rebalance, pause, resume,
// cancel, throttle. Each validates and writes the record in one
// compare-and-swap (ClusterStore::Update); the leader's Migrator does the
// moving. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "configserver/cluster_store.h"

namespace redkube::configserver {

using MigrationResult = std::variant<MigrationRecord, StoreError>;

class MigrationControl {
 public:
  explicit MigrationControl(ClusterStore* store) : store_(store) {}

  std::variant<ClusterRecord, StoreError> AddShard(const std::string& cluster, const std::string& shard);
  std::variant<ClusterRecord, StoreError> DeleteShard(const std::string& cluster, const std::string& shard);

  MigrationResult Start(const std::string& cluster, const std::string& from, const std::string& to,
                        const std::vector<SlotRange>& slots, const Throttle& throttle);
  // Plans with PlanRebalance and queues one migration per move. `keep`
  // empty: every shard with a master. Refused while migrations are unfinished.
  std::variant<std::vector<MigrationRecord>, StoreError> Rebalance(const std::string& cluster,
                                                                   std::vector<std::string> keep,
                                                                   const Throttle& throttle);

  MigrationResult Pause(const std::string& cluster, const std::string& id);
  MigrationResult Resume(const std::string& cluster, const std::string& id);
  MigrationResult Cancel(const std::string& cluster, const std::string& id);
  MigrationResult SetThrottle(const std::string& cluster, const std::string& id, const Throttle& throttle);

 private:
  using Change = std::function<std::optional<StoreError>(MigrationRecord*)>;
  MigrationResult Modify(const std::string& cluster, const std::string& id, const Change& change);

  ClusterStore* store_;
};

}  // namespace redkube::configserver
