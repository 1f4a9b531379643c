#include "configserver/rebalance_planner.h"

#include <algorithm>
#include <set>

#include "configserver/slot_set.h"

namespace redkube::configserver {

Result<std::vector<PlannedMove>> PlanRebalance(const ClusterRecord& record,
                                               const std::vector<std::string>& keep) {
  if (keep.empty()) return Status::Error("at least one shard must keep slots");
  std::set<std::string> kept;
  for (const auto& id : keep) {
    const ShardRecord* shard = record.FindShard(id);
    if (shard == nullptr) return Status::Error("no shard " + id);
    if (shard->master.empty()) return Status::Error("shard " + id + " has no registered master yet");
    if (!kept.insert(id).second) return Status::Error("shard " + id + " is listed twice");
  }
  struct Balance {
    std::string id;
    SlotSet slots;
    int want = 0;
  };
  std::vector<Balance> shards;
  for (const auto& s : record.shards) shards.push_back({s.id, SlotSet(s.slots), 0});

  // Kept shards get the base share; the remainder goes to those holding the
  // most now (record order breaks ties), so they give fewer away.
  const int n = static_cast<int>(kept.size());
  std::vector<Balance*> by_size;
  for (auto& b : shards) {
    if (kept.count(b.id)) {
      b.want = kSlotCount / n;
      by_size.push_back(&b);
    }
  }
  std::stable_sort(by_size.begin(), by_size.end(),
                   [](const Balance* a, const Balance* b) { return a->slots.Count() > b->slots.Count(); });
  for (int i = 0; i < kSlotCount % n; ++i) by_size[i]->want += 1;

  std::vector<PlannedMove> moves;
  auto receiver = shards.begin();
  for (auto& donor : shards) {
    while (donor.slots.Count() > donor.want) {
      while (receiver != shards.end() && receiver->slots.Count() >= receiver->want) ++receiver;
      if (receiver == shards.end()) break;  // cannot happen: surpluses and deficits are equal
      int count = std::min(donor.slots.Count() - donor.want, receiver->want - receiver->slots.Count());
      SlotSet given = donor.slots.Highest(count);
      donor.slots.Remove(given);
      receiver->slots.Add(given);
      moves.push_back({donor.id, receiver->id, given.ToRanges()});
    }
  }
  return moves;
}

}  // namespace redkube::configserver
