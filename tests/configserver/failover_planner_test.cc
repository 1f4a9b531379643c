#include "configserver/failover_planner.h"

#include <gtest/gtest.h>

namespace redkube::configserver {
namespace {

constexpr int64_t kDownAfter = 1500;

ShardRecord Shard() {
  ShardRecord s;
  s.id = "shard-0";
  s.master = "m:1";
  s.nodes = {"m:1", "r:1", "r:2"};
  return s;
}

NodeHealth Up(const std::string& role, const std::string& from = "", int64_t offset = 0,
              bool link = true) {
  NodeHealth h;
  h.reachable = true;
  h.role = role;
  h.replicating_from = from;
  h.offset = offset;
  h.link_up = link;
  return h;
}

NodeHealth Failing(int64_t since) {
  NodeHealth h;
  h.failing_since_ms = since;
  return h;
}

TEST(FailoverPlanner, HealthyShardNeedsNothing) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("master")}, {"r:1", Up("slave", "m:1")}, {"r:2", Up("slave", "m:1")}};
  EXPECT_TRUE(PlanShard(Shard(), health, 10000, kDownAfter).Empty());
}

TEST(FailoverPlanner, MasterDownShorterThanDownAfterWaits) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Failing(9000)}, {"r:1", Up("slave", "m:1")}, {"r:2", Up("slave", "m:1")}};
  EXPECT_TRUE(PlanShard(Shard(), health, 10000, kDownAfter).Empty());
}

TEST(FailoverPlanner, PromotesTheReplicaWithTheHighestOffsetAndRepointsTheOthers) {
  std::map<std::string, NodeHealth> health = {{"m:1", Failing(8000)},
                                              {"r:1", Up("slave", "m:1", 100, false)},
                                              {"r:2", Up("slave", "m:1", 250, false)}};
  ShardPlan plan = PlanShard(Shard(), health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:2");
  EXPECT_EQ(plan.mark_down, std::vector<std::string>{"m:1"});
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:1"});
}

TEST(FailoverPlanner, NeverPromotesANodeOutOfTheReadSet) {
  ShardRecord shard = Shard();
  shard.down = {"r:2"};  // e.g. a stale old master, not yet in sync
  std::map<std::string, NodeHealth> health = {{"m:1", Failing(1)},
                                              {"r:1", Up("slave", "m:1", 100)},
                                              {"r:2", Up("slave", "m:1", 900)}};
  EXPECT_EQ(PlanShard(shard, health, 10000, kDownAfter).promote, "r:1");
  shard.down = {"r:1", "r:2"};
  ShardPlan plan = PlanShard(shard, health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "");
  EXPECT_NE(plan.stuck, "");
}

TEST(FailoverPlanner, ReturningOldMasterIsDemotedAndRejoinsOnlyWhenInSync) {
  ShardRecord shard = Shard();
  shard.master = "r:1";
  shard.down = {"m:1"};
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("master")}, {"r:1", Up("master")}, {"r:2", Up("slave", "r:1")}};
  ShardPlan plan = PlanShard(shard, health, 10000, kDownAfter);
  EXPECT_EQ(plan.follow, std::vector<std::string>{"m:1"});
  EXPECT_TRUE(plan.mark_up.empty());
  health["m:1"] = Up("slave", "r:1", 0, /*link=*/false);
  EXPECT_TRUE(PlanShard(shard, health, 10000, kDownAfter).Empty());
  health["m:1"] = Up("slave", "r:1", 0, /*link=*/true);
  EXPECT_EQ(PlanShard(shard, health, 10000, kDownAfter).mark_up, std::vector<std::string>{"m:1"});
}

TEST(FailoverPlanner, FailedReplicaLeavesTheReadSet) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("master")}, {"r:1", Failing(8000)}, {"r:2", Up("slave", "m:1")}};
  EXPECT_EQ(PlanShard(Shard(), health, 10000, kDownAfter).mark_down,
            std::vector<std::string>{"r:1"});
  health["r:1"] = Failing(9500);
  EXPECT_TRUE(PlanShard(Shard(), health, 10000, kDownAfter).Empty());
}

TEST(FailoverPlanner, SwitchoverInProgressHoldsTheShard) {
  ShardRecord shard = Shard();
  shard.switching_to = "r:1";
  shard.switching_until_ms = 20000;
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("slave", "r:1")}, {"r:1", Up("master")}, {"r:2", Up("slave", "m:1")}};
  EXPECT_TRUE(PlanShard(shard, health, 10000, kDownAfter).Empty());
  // After its deadline the prober repairs whatever is left.
  EXPECT_FALSE(PlanShard(shard, health, 30000, kDownAfter).Empty());
}

}  // namespace
}  // namespace redkube::configserver
