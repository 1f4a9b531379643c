// The rebalance planner: the fewest slot moves that give every kept shard
// an equal share of the 16384 slots (16384 / N each; the shards that hold
// the most now keep the N-th remainder, so fewer slots move), and give the
// shards not kept (being drained for a scale-in) none. Pure: no I/O.
//
// Slots moved = the sum of the donors' surpluses, the least possible. Each
// donor gives from the high end of its slots, so what stays is contiguous
// where it was; each (donor, receiver) pair becomes one migration.
#pragma once

#include <string>
#include <vector>

#include "configserver/cluster_record.h"
#include "core/status.h"

namespace redkube::configserver {

struct PlannedMove {
  std::string from;
  std::string to;
  std::vector<SlotRange> slots;
};

// Fails when `keep` is empty, names an unknown shard twice or at all, or a
// kept shard has no master.
Result<std::vector<PlannedMove>> PlanRebalance(const ClusterRecord& record,
                                               const std::vector<std::string>& keep);

}  // namespace redkube::configserver
