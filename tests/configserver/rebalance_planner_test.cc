#include "configserver/rebalance_planner.h"

#include <gtest/gtest.h>

#include <map>

#include "configserver/slot_set.h"

namespace redkube::configserver {
namespace {

ClusterRecord Registered(int shards) {
  ClusterRecord r = NewCluster("demo", shards);
  for (auto& s : r.shards) s.master = s.id + ":1";
  return r;
}

// Applies the moves and returns each shard's slot count.
std::map<std::string, int> Apply(ClusterRecord r, const std::vector<PlannedMove>& moves) {
  for (const auto& m : moves) {
    ShardRecord* from = r.FindShard(m.from);
    ShardRecord* to = r.FindShard(m.to);
    SlotSet moved(m.slots), source(from->slots), target(to->slots);
    EXPECT_TRUE(source.ContainsAll(moved)) << m.from << " gives slots it does not own";
    source.Remove(moved);
    target.Add(moved);
    from->slots = source.ToRanges();
    to->slots = target.ToRanges();
  }
  std::map<std::string, int> counts;
  SlotSet all;
  for (const auto& s : r.shards) {
    SlotSet owned(s.slots);
    EXPECT_FALSE(all.Intersects(owned));
    all.Add(owned);
    counts[s.id] = owned.Count();
  }
  EXPECT_EQ(all.Count(), kSlotCount);
  return counts;
}

int Moved(const std::vector<PlannedMove>& moves) {
  int n = 0;
  for (const auto& m : moves) n += SlotSet(m.slots).Count();
  return n;
}

TEST(RebalancePlanner, ScaleOutThreeToFiveMovesOnlyTheSurplus) {
  ClusterRecord r = Registered(3);
  for (const char* id : {"shard-3", "shard-4"}) {
    ShardRecord s;
    s.id = id;
    s.master = std::string(id) + ":1";
    r.shards.push_back(s);
  }
  auto plan = PlanRebalance(r, {"shard-0", "shard-1", "shard-2", "shard-3", "shard-4"});
  ASSERT_TRUE(plan.ok()) << plan.error();
  auto counts = Apply(r, plan.value());
  for (const auto& [id, n] : counts) EXPECT_TRUE(n == 3276 || n == 3277) << id << " " << n;
  EXPECT_EQ(counts["shard-3"] + counts["shard-4"], Moved(plan.value()));  // nothing moves twice
  EXPECT_LE(plan->size(), 4u);
}

TEST(RebalancePlanner, ScaleInDrainsTheShardsNotKept) {
  ClusterRecord r = Registered(5);
  auto plan = PlanRebalance(r, {"shard-0", "shard-1"});
  ASSERT_TRUE(plan.ok()) << plan.error();
  auto counts = Apply(r, plan.value());
  EXPECT_EQ(counts["shard-0"], 8192);
  EXPECT_EQ(counts["shard-1"], 8192);
  EXPECT_EQ(counts["shard-2"] + counts["shard-3"] + counts["shard-4"], 0);
  for (const auto& m : plan.value()) EXPECT_TRUE(m.to == "shard-0" || m.to == "shard-1");
}

TEST(RebalancePlanner, BalancedClusterNeedsNoMove) {
  auto plan = PlanRebalance(Registered(3), {"shard-0", "shard-1", "shard-2"});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty());
}

TEST(RebalancePlanner, RefusesBadShardLists) {
  ClusterRecord r = Registered(2);
  EXPECT_FALSE(PlanRebalance(r, {}).ok());
  EXPECT_FALSE(PlanRebalance(r, {"shard-0", "shard-0"}).ok());
  EXPECT_FALSE(PlanRebalance(r, {"shard-9"}).ok());
  r.shards[1].master.clear();
  EXPECT_FALSE(PlanRebalance(r, {"shard-0", "shard-1"}).ok());
}

TEST(SlotSet, RangesRoundTripAndPickEnds) {
  SlotSet s({{0, 9}, {100, 100}, {16380, 16383}});
  EXPECT_EQ(s.Count(), 15);
  EXPECT_EQ(s.ToRanges(), (std::vector<SlotRange>{{0, 9}, {100, 100}, {16380, 16383}}));
  EXPECT_EQ(s.Lowest(11).ToRanges(), (std::vector<SlotRange>{{0, 9}, {100, 100}}));
  EXPECT_EQ(s.Highest(5).ToRanges(), (std::vector<SlotRange>{{100, 100}, {16380, 16383}}));
  SlotSet t = s;
  t.Remove(SlotSet({{5, 100}}));
  EXPECT_EQ(t.ToRanges(), (std::vector<SlotRange>{{0, 4}, {16380, 16383}}));
}

TEST(ClusterRecordMigrations, RoundTripAndPublishTheStepOnly) {
  ClusterRecord r = Registered(2);
  ShardRecord empty;
  empty.id = "shard-2";
  r.shards.push_back(empty);
  EXPECT_TRUE(r.Complete()) << "a new shard without slots does not make the cluster incomplete";
  MigrationRecord m;
  m.id = "m-1";
  m.from = "shard-0";
  m.to = "shard-1";
  m.slots = {{0, 99}};
  m.step = {{0, 9}};
  m.state = MigrationState::kRunning;
  m.held_keys = {std::string("big\0key", 7)};
  r.migrations.push_back(m);
  auto parsed = ClusterRecord::FromJson(r.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->ToJson(), r.ToJson());
  EXPECT_EQ(parsed->migrations[0].held_keys[0], std::string("big\0key", 7));
  auto published = nlohmann::json::parse(PublishedTopology(r));
  ASSERT_EQ(published["migrations"].size(), 1u);
  EXPECT_EQ(published["migrations"][0]["slots"], nlohmann::json::parse("[[0, 9]]"));
  EXPECT_EQ(published["migrations"][0]["held_keys"][0], "626967006b6579");
  EXPECT_EQ(published["shards"].size(), 2u) << "the shard without a master is not published";
  ClusterRecord later = r;
  later.migrations[0].keys_moved = 5;
  EXPECT_FALSE(PublishedTopologyDiffers(r, later)) << "progress counters do not move the epoch";
  later.migrations[0].step = {{10, 19}};
  EXPECT_TRUE(PublishedTopologyDiffers(r, later));
}

}  // namespace
}  // namespace redkube::configserver
