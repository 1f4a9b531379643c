#include "runtime/scale_plan.h"

#include <gtest/gtest.h>

namespace redkube::runtime {
namespace {

using nlohmann::json;

ClusterView Record(const std::vector<std::pair<std::string, json>>& shards) {
  json list = json::array();
  for (const auto& [id, slots] : shards) list.push_back({{"id", id}, {"slots", slots}});
  auto view = ClusterView::FromJson(json{{"shards", list}});
  EXPECT_TRUE(view.ok()) << view.error();
  return view.ok() ? view.value() : ClusterView{};
}

TEST(ScalePlanTest, ShardIndexOfReadsOnlyShardIds) {
  EXPECT_EQ(ShardIndexOf("shard-0"), 0);
  EXPECT_EQ(ShardIndexOf("shard-12"), 12);
  EXPECT_FALSE(ShardIndexOf("shard-"));
  EXPECT_FALSE(ShardIndexOf("shard-x"));
  EXPECT_FALSE(ShardIndexOf("proxy-1"));
  EXPECT_FALSE(ShardIndexOf("shard-01"));  // not how ShardGroupName writes 1
  EXPECT_EQ(ShardGroupName(7), "shard-7");
  EXPECT_EQ(ShardIndexOf(ShardGroupName(7)), 7);
}

TEST(ScalePlanTest, ACreatedClusterIsBalancedWhicheverShardHasTheExtraSlot) {
  // As the ConfigServer creates 3 shards: the middle one has one more.
  ClusterView record =
      Record({{"shard-0", {{0, 5460}}}, {"shard-1", {{5461, 10922}}}, {"shard-2", {{10923, 16383}}}});
  EXPECT_EQ(SlotsOwned(record, "shard-1"), 5462);
  EXPECT_TRUE(SlotsBalanced(record, {"shard-0", "shard-1", "shard-2"}));
  EXPECT_FALSE(SlotsBalanced(record, {"shard-0", "shard-1", "shard-2", "shard-3"}));
  EXPECT_FALSE(SlotsBalanced(record, {"shard-0", "shard-1"}));
}

TEST(ScalePlanTest, ADrainedShardMustOwnNothingForTheRestToBeBalanced) {
  ClusterView drained =
      Record({{"shard-0", {{0, 8191}}}, {"shard-1", {{8192, 16383}}}, {"shard-2", json::array()}});
  EXPECT_TRUE(SlotsBalanced(drained, {"shard-0", "shard-1"}));
  ClusterView leftover =
      Record({{"shard-0", {{0, 8190}}}, {"shard-1", {{8192, 16383}}}, {"shard-2", {{8191, 8191}}}});
  EXPECT_FALSE(SlotsBalanced(leftover, {"shard-0", "shard-1"}));
}

json Listing() {
  return {{"migrations",
           {{{"id", "m-1-0"},
             {"from", "shard-0"},
             {"to", "shard-3"},
             {"state", "running"},
             {"slots_total", 1366},
             {"slots_done", 1024},
             {"keys_moved", 8000},
             {"bytes_moved", 800000},
             {"keys_per_s", 4000.0},
             {"eta_s", 2.0},
             {"waiting_for", json::array()}},
            {{"id", "m-1-1"},
             {"from", "shard-1"},
             {"to", "shard-3"},
             {"state", "queued"},
             {"slots_total", 1365},
             {"slots_done", 0},
             {"keys_moved", 0}},
            {{"id", "m-1-2"},
             {"from", "shard-2"},
             {"to", "shard-3"},
             {"state", "running"},
             {"slots_total", 1365},
             {"slots_done", 100},
             {"keys_moved", 500},
             {"keys_per_s", 1000.0},
             {"eta_s", 3.5},
             {"waiting_for", {"proxy-a"}}},
            {{"id", "m-0-0"},
             {"from", "shard-2"},
             {"to", "shard-0"},
             {"state", "done"},
             {"slots_total", 10},
             {"slots_done", 10},
             {"keys_moved", 7}}}}};
}

TEST(ScalePlanTest, ProgressSumsTheFollowedMigrationsOnly) {
  MigrationProgress p = SumProgress(Listing(), {"m-1-0", "m-1-1", "m-1-2"});
  EXPECT_EQ(p.total, 3);
  EXPECT_EQ(p.running, 2);
  EXPECT_EQ(p.queued, 1);
  EXPECT_EQ(p.finished, 0);
  EXPECT_EQ(p.slots_done, 1124);
  EXPECT_EQ(p.slots_total, 4096);
  EXPECT_EQ(p.keys_moved, 8500);
  EXPECT_DOUBLE_EQ(p.keys_per_s, 5000.0);
  EXPECT_DOUBLE_EQ(p.eta_s, 5.5);
  EXPECT_EQ(p.waiting_for, std::vector<std::string>{"proxy-a"});
  EXPECT_FALSE(p.AllFinished());
  EXPECT_EQ(ActiveMigrations(Listing()), (std::vector<std::string>{"m-1-0", "m-1-1", "m-1-2"}));
}

TEST(ScalePlanTest, AnUnknownEtaMakesTheSumUnknown) {
  json listing = Listing();
  listing["migrations"][2]["eta_s"] = nullptr;  // running, no rate yet
  MigrationProgress p = SumProgress(listing, {"m-1-0", "m-1-2"});
  EXPECT_LT(p.eta_s, 0);
  EXPECT_NE(ProgressText(p).find("ETA -"), std::string::npos) << ProgressText(p);
  EXPECT_DOUBLE_EQ(NumberOr(listing["migrations"][2], "eta_s", 7), 7);
}

TEST(ScalePlanTest, AMigrationNoLongerListedCountsAsFinished) {
  MigrationProgress p = SumProgress(Listing(), {"m-0-0", "m-gone"});
  EXPECT_EQ(p.finished, 2);
  EXPECT_TRUE(p.AllFinished());
}

TEST(ScalePlanTest, FailedOrCancelledIsReportedWithItsMessage) {
  json listing = Listing();
  EXPECT_FALSE(MigrationFailure(listing, {"m-1-0", "m-0-0"}));
  listing["migrations"][1]["state"] = "failed";
  listing["migrations"][1]["message"] = "source shard deleted";
  auto failure = MigrationFailure(listing, {"m-1-0", "m-1-1"});
  ASSERT_TRUE(failure);
  EXPECT_EQ(*failure, "migration m-1-1 (shard-1 -> shard-3) failed: source shard deleted");
  EXPECT_TRUE(SumProgress(listing, {"m-1-1"}).AllFinished());
}

TEST(ScalePlanTest, ProgressReadsAsOneLine) {
  EXPECT_EQ(HumanCount(999), "999");
  EXPECT_EQ(HumanCount(81234), "81.2k");
  EXPECT_EQ(HumanCount(4.1e6), "4.1M");
  EXPECT_EQ(HumanDuration(12.4), "12s");
  EXPECT_EQ(HumanDuration(185), "3m05s");
  EXPECT_EQ(HumanDuration(7800), "2h10m");
  EXPECT_EQ(HumanDuration(-1), "-");
  EXPECT_EQ(ProgressBar(1, 4, 8), "[##......]");
  EXPECT_EQ(ProgressBar(5, 4, 4), "[####]");
  EXPECT_EQ(ProgressBar(0, 0, 2), "[..]");
  std::string line = ProgressText(SumProgress(Listing(), {"m-1-0", "m-1-1", "m-1-2"}));
  EXPECT_NE(line.find("1124/4096 slots"), std::string::npos) << line;
  EXPECT_NE(line.find("8.5k keys"), std::string::npos) << line;
  EXPECT_NE(line.find("5.0k keys/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 6s"), std::string::npos) << line;
  EXPECT_NE(line.find("(2 running, 1 queued)"), std::string::npos) << line;
  EXPECT_NE(line.find("waiting for proxy proxy-a"), std::string::npos) << line;
}

}  // namespace
}  // namespace redkube::runtime
