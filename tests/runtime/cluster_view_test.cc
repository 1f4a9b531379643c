#include "runtime/cluster_view.h"

#include <gtest/gtest.h>

namespace redkube::runtime {
namespace {

using nlohmann::json;

// What GET /v1/clusters/NAME answers (ClusterRecord::ToJson + complete,
// leader, health), trimmed to two shards.
json Answer() {
  return json::parse(R"({
    "name": "demo", "epoch": 7, "complete": true, "leader": "configserver-1",
    "shards": [
      {"id": "shard-0", "slots": [[0, 8191]], "master": "10.0.0.1:6379",
       "nodes": ["10.0.0.1:6379", "10.0.0.2:6379"], "down": ["10.0.0.2:6379"],
       "switching_to": "", "switching_until_ms": 0},
      {"id": "shard-1", "slots": [[8192, 9000], [9001, 16383]], "master": "",
       "nodes": [], "down": []}
    ],
    "migrations": [{"id": "m-1", "state": "done"}, {"id": "m-2", "state": "running"},
                   {"id": "m-3", "state": "queued"}, {"id": "m-4", "state": "cancelled"}],
    "migrations_created": 4,
    "health": {"10.0.0.1:6379": {"reachable": true, "role": "master", "replicating_from": "",
                                 "link_up": false, "offset": 120, "failing_since_ms": 0}}
  })");
}

TEST(ClusterViewTest, ReadsShardsNodesHealthSlotsEpochAndMigrations) {
  auto view = ClusterView::FromJson(Answer());
  ASSERT_TRUE(view.ok()) << view.error();
  EXPECT_EQ(view->name, "demo");
  EXPECT_EQ(view->epoch, 7u);
  EXPECT_TRUE(view->complete);
  EXPECT_EQ(view->leader, "configserver-1");
  EXPECT_EQ(view->ShardIds(), (std::vector<std::string>{"shard-0", "shard-1"}));

  const ShardView* s0 = view->Shard("shard-0");
  ASSERT_NE(s0, nullptr);
  EXPECT_EQ(s0->master, "10.0.0.1:6379");
  EXPECT_EQ(s0->SlotCount(), 8192);
  ASSERT_EQ(s0->nodes.size(), 2u);
  EXPECT_TRUE(s0->nodes[0].in_sync);
  EXPECT_FALSE(s0->nodes[1].in_sync);
  EXPECT_EQ(s0->OutOfSync(), 1);
  ASSERT_TRUE(s0->nodes[0].health.has_value());
  EXPECT_TRUE(s0->nodes[0].health->reachable);
  EXPECT_EQ(s0->nodes[0].health->role, "master");
  EXPECT_EQ(s0->nodes[0].health->offset, 120);
  EXPECT_FALSE(s0->nodes[1].health.has_value());  // the prober has not seen it
  EXPECT_TRUE(s0->HasNode("10.0.0.2:6379"));
  EXPECT_FALSE(s0->HasNode("10.0.0.3:6379"));

  const ShardView* s1 = view->Shard("shard-1");
  ASSERT_NE(s1, nullptr);
  EXPECT_EQ(s1->SlotCount(), 16384 - 8192);
  EXPECT_EQ(s1->slots.size(), 2u);
  EXPECT_TRUE(s1->master.empty());
  EXPECT_EQ(view->Shard("shard-2"), nullptr);

  EXPECT_EQ(view->migrations.active_ids, (std::vector<std::string>{"m-2", "m-3"}));
  EXPECT_EQ(view->migrations.finished, 2);
}

TEST(ClusterViewTest, ARecordFromCreationHasNoCompleteLeaderOrHealth) {
  json created = Answer();
  for (const char* key : {"complete", "leader", "health"}) created.erase(key);
  auto view = ClusterView::FromJson(created);
  ASSERT_TRUE(view.ok()) << view.error();
  EXPECT_FALSE(view->complete);
  EXPECT_EQ(view->leader, "");
  EXPECT_FALSE(view->shards[0].nodes[0].health.has_value());
}

TEST(ClusterViewTest, MalformedRecordsAreErrorsNamingTheField) {
  auto error = [](const json& doc) {
    auto view = ClusterView::FromJson(doc);
    return view.ok() ? std::string("parsed") : view.error();
  };
  EXPECT_EQ(error(json::array()), "cluster record: not a JSON object");
  EXPECT_EQ(error(json{{"name", "demo"}}), "cluster record: no \"shards\" array");
  json doc = Answer();
  doc["shards"][0]["nodes"] = "10.0.0.1:6379";
  EXPECT_EQ(error(doc), "cluster record: shard shard-0.nodes is not an array");
  doc = Answer();
  doc["shards"][1]["slots"] = {{9000, 8192}};
  EXPECT_EQ(error(doc), "cluster record: shard shard-1.slots holds [9000,8192], not [first, last]");
  doc = Answer();
  doc["shards"][0]["master"] = 5;
  EXPECT_EQ(error(doc), "cluster record: shard shard-0.master is not a string");
  doc = Answer();
  doc["epoch"] = "seven";
  EXPECT_EQ(error(doc), "cluster record: epoch is not a number");
}

}  // namespace
}  // namespace redkube::runtime
