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

NodeHealth Up(const std::string& role, const std::string& from = "", int64_t offset = 0, bool link = true) {
  NodeHealth h;
  h.reachable = true;
  h.role = role;
  h.replicating_from = from;
  h.offset = offset;
  h.previous_offset = offset;  // steady: no writes since the last probe
  h.link_up = link;
  h.link_up_since_ms = link ? 1 : 0;         // long ago
  if (role == "slave") h.contact_ms = 9900;  // heard from its master just now
  return h;
}

// A shard whose failover has already published its fence (at epoch 5).
ShardRecord Fenced() {
  ShardRecord s = Shard();
  s.fenced = true;
  s.fence_epoch = 5;
  return s;
}

ProxyReport Witness(const std::string& id, uint64_t epoch, std::map<std::string, int64_t> unreachable) {
  return ProxyReport{id, epoch, 0, true, std::move(unreachable), ""};
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
  ShardPlan plan = PlanShard(Fenced(), health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:2");
  EXPECT_EQ(plan.mark_down, std::vector<std::string>{"m:1"});
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:1"});
}

TEST(FailoverPlanner, NeverPromotesANodeOutOfTheReadSet) {
  ShardRecord shard = Fenced();
  shard.down = {"r:2"};  // e.g. a stale old master, not yet in sync
  std::map<std::string, NodeHealth> health = {
      {"m:1", Failing(1)}, {"r:1", Up("slave", "m:1", 100)}, {"r:2", Up("slave", "m:1", 900)}};
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

TEST(FailoverPlanner, AReplicaWithTheLinkUpButBehindTheMasterStaysOutOfTheReadSet) {
  // Just after a full sync: the link reads up, but the master has not
  // streamed since (it waits for the replica's first ACK) while taking
  // writes. Promoted now, the replica would lack them.
  ShardRecord shard = Shard();
  shard.down = {"r:1"};
  NodeHealth master = Up("master", "", 46000);
  master.previous_offset = 30000;
  std::map<std::string, NodeHealth> health = {
      {"m:1", master}, {"r:1", Up("slave", "m:1", 0)}, {"r:2", Up("slave", "m:1", 46000)}};
  EXPECT_TRUE(PlanShard(shard, health, 10000, kDownAfter).mark_up.empty());
  health["r:1"] = Up("slave", "m:1", 30000);  // has what the master had one probe ago
  EXPECT_EQ(PlanShard(shard, health, 10000, kDownAfter).mark_up, std::vector<std::string>{"r:1"});
  health["m:1"].previous_offset = -1;  // the master's first probe: nothing to compare yet
  EXPECT_TRUE(PlanShard(shard, health, 10000, kDownAfter).mark_up.empty());
  // The link up for under 1.5 s: the master may not be streaming yet, even
  // with no writes to show it.
  health = {
      {"m:1", Up("master", "", 500)}, {"r:1", Up("slave", "m:1", 500)}, {"r:2", Up("slave", "m:1", 500)}};
  health["r:1"].link_up_since_ms = 9000;
  EXPECT_TRUE(PlanShard(shard, health, 10000, kDownAfter).mark_up.empty());
  EXPECT_EQ(PlanShard(shard, health, 10500, kDownAfter).mark_up, std::vector<std::string>{"r:1"});
}

TEST(FailoverPlanner, FailedReplicaLeavesTheReadSet) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("master")}, {"r:1", Failing(8000)}, {"r:2", Up("slave", "m:1")}};
  EXPECT_EQ(PlanShard(Shard(), health, 10000, kDownAfter).mark_down, std::vector<std::string>{"r:1"});
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
  // After its deadline the prober repairs whatever is left: here the swap
  // was done but not recorded, so the record adopts the new master.
  ShardPlan plan = PlanShard(shard, health, 30000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:1");
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:2"});
}

TEST(FailoverPlanner, AdoptsTheMasterOfAnUnrecordedSwitchoverInsteadOfMakingACycle) {
  // FAILOVER finished, the record still names m:1: r:1 must not be pointed
  // at m:1 (each would replicate the other and neither take writes).
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("slave", "r:1", 500)}, {"r:1", Up("master", "", 500)}, {"r:2", Up("slave", "m:1", 500)}};
  ShardPlan plan = PlanShard(Shard(), health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:1");
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:2"});
  EXPECT_TRUE(plan.mark_down.empty());
}

TEST(FailoverPlanner, ARecordedMasterThatReplicatesIsMadeMasterAgain) {
  // A promotion recorded but not finished: it still follows the dead master.
  ShardRecord shard = Shard();
  shard.master = "r:1";
  shard.down = {"m:1"};
  std::map<std::string, NodeHealth> health = {
      {"m:1", Failing(1)}, {"r:1", Up("slave", "m:1", 900, false)}, {"r:2", Up("slave", "m:1", 800, false)}};
  ShardPlan plan = PlanShard(shard, health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:1");
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:2"});
  // Two servers replicating each other: the recorded one becomes master.
  health = {{"m:1", Up("slave", "r:1")}, {"r:1", Up("slave", "m:1")}, {"r:2", Up("slave", "r:1")}};
  plan = PlanShard(Shard(), health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "m:1");
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:2"});
  // Its source is master but out of the read set (stale): not adopted.
  shard = Shard();
  shard.down = {"r:1"};
  health = {{"m:1", Up("slave", "r:1")}, {"r:1", Up("master")}, {"r:2", Up("slave", "m:1")}};
  plan = PlanShard(shard, health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "m:1");
  EXPECT_EQ(plan.follow, std::vector<std::string>{"r:1"});
}

TEST(FailoverPlanner, AFailedMasterIsFencedBeforeAnyReplicaIsPromoted) {
  std::map<std::string, NodeHealth> health = {{"m:1", Failing(8000)},
                                              {"r:1", Up("slave", "m:1", 100, false)},
                                              {"r:2", Up("slave", "m:1", 250, false)}};
  ShardPlan plan = PlanShard(Shard(), health, 10000, kDownAfter, {Witness("p1", 4, {{"m:1", 8000}})});
  EXPECT_TRUE(plan.fence);
  EXPECT_EQ(plan.promote, "");
  EXPECT_TRUE(plan.mark_down.empty());
  EXPECT_FALSE(plan.Empty());
}

TEST(FailoverPlanner, PromotionWaitsUntilEveryLiveProxyHasAppliedTheFence) {
  std::map<std::string, NodeHealth> health = {{"m:1", Failing(8000)},
                                              {"r:1", Up("slave", "m:1", 100, false)},
                                              {"r:2", Up("slave", "m:1", 250, false)}};
  ShardPlan plan = PlanShard(Fenced(), health, 10000, kDownAfter,
                             {Witness("p1", 5, {{"m:1", 8000}}), Witness("p2", 4, {{"m:1", 8000}})});
  EXPECT_EQ(plan.promote, "");
  EXPECT_FALSE(plan.fence);
  EXPECT_NE(plan.waiting.find("p2 (epoch 4)"), std::string::npos) << plan.waiting;
  // A proxy that does not witness (an older one) is still waited for.
  plan = PlanShard(Fenced(), health, 10000, kDownAfter, {ProxyReport{"old", 3, 0, false, {}, ""}});
  EXPECT_EQ(plan.promote, "");
  plan = PlanShard(Fenced(), health, 10000, kDownAfter,
                   {Witness("p1", 5, {{"m:1", 8000}}), Witness("p2", 6, {{"m:1", 8000}})});
  EXPECT_EQ(plan.promote, "r:2");
  EXPECT_EQ(plan.waiting, "");
}

TEST(FailoverPlanner, AMasterThatALiveProxyReachesIsNotFailedOver) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Failing(8000)}, {"r:1", Up("slave", "m:1", 100)}, {"r:2", Up("slave", "m:1", 250)}};
  // p2 reaches m:1 (it is not in its unreachable set): a control-plane
  // partition.
  std::vector<ProxyReport> proxies = {Witness("p1", 4, {{"m:1", 8000}}), Witness("p2", 4, {})};
  ShardPlan plan = PlanShard(Shard(), health, 10000, kDownAfter, proxies);
  EXPECT_FALSE(plan.fence);
  EXPECT_EQ(plan.promote, "");
  EXPECT_NE(plan.partitioned.find("p2"), std::string::npos) << plan.partitioned;
  EXPECT_TRUE(plan.Empty());
  // A fence already published is lifted.
  plan = PlanShard(Fenced(), health, 10000, kDownAfter, proxies);
  EXPECT_TRUE(plan.unfence);
  EXPECT_EQ(plan.promote, "");
  // A proxy that does not witness vetoes nothing.
  plan = PlanShard(Shard(), health, 10000, kDownAfter, {ProxyReport{"old", 4, 0, false, {}, ""}});
  EXPECT_TRUE(plan.fence);
}

TEST(FailoverPlanner, AReplicaThatStoppedHearingFromTheMasterBeforeItWasLastSeenIsNoCandidate) {
  NodeHealth master = Failing(8300);
  master.probed_ms = 8000;  // our last probe that answered
  NodeHealth fresh = Up("slave", "m:1", 100);
  fresh.contact_ms = 7900;
  NodeHealth stale = Up("slave", "m:1", 900);  // more data, but its stream stopped long before
  stale.contact_ms = 5000;
  std::map<std::string, NodeHealth> health = {{"m:1", master}, {"r:1", fresh}, {"r:2", stale}};
  ShardPlan plan = PlanShard(Fenced(), health, 10000, kDownAfter);
  EXPECT_EQ(plan.promote, "r:1");
  // A proxy reached the master until 9950: r:1's contact (7900) is now
  // older than that by more than the slack, so neither may be promoted.
  plan = PlanShard(Fenced(), health, 10000, kDownAfter, {Witness("p1", 5, {{"m:1", 9950}})});
  EXPECT_EQ(plan.promote, "");
  EXPECT_NE(plan.stuck.find("stale"), std::string::npos) << plan.stuck;
  EXPECT_TRUE(plan.unfence);  // no failover to fence for
}

TEST(FailoverPlanner, AFencedShardWhoseMasterAnswersAgainIsUnfenced) {
  std::map<std::string, NodeHealth> health = {
      {"m:1", Up("master")}, {"r:1", Up("slave", "m:1")}, {"r:2", Up("slave", "m:1")}};
  ShardPlan plan = PlanShard(Fenced(), health, 10000, kDownAfter);
  EXPECT_TRUE(plan.unfence);
  EXPECT_EQ(plan.promote, "");
  // A new leader that inherits the fence, its master failing for less than
  // down-after so far (its own count just began): the fence stays.
  health["m:1"] = Failing(9500);
  plan = PlanShard(Fenced(), health, 10000, kDownAfter);
  EXPECT_FALSE(plan.unfence);
  EXPECT_TRUE(plan.Empty());
}

TEST(ProxyRegistry, ParsesTheUnreachableReport) {
  auto parsed = ProxyRegistry::ParseUnreachable("127.0.0.1:7001~1234,10.0.0.2:7002~0", 10000);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at("127.0.0.1:7001"), 10000 - 1234);
  EXPECT_EQ(parsed->at("10.0.0.2:7002"), 10000);
  ASSERT_TRUE(ProxyRegistry::ParseUnreachable("", 10000).has_value());
  EXPECT_TRUE(ProxyRegistry::ParseUnreachable("", 10000)->empty());
  for (const char* bad : {"127.0.0.1:7001", "127.0.0.1:7001~", "127.0.0.1:7001~-5", "~5", "nohost~5",
                          "127.0.0.1:7001~12x", "127.0.0.1:99999~1"}) {
    EXPECT_FALSE(ProxyRegistry::ParseUnreachable(bad, 10000).has_value()) << bad;
  }
}

}  // namespace
}  // namespace redkube::configserver
