#include "configserver/cluster_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace redkube::configserver {
namespace {

TEST(ClusterRecord, NewClusterSplitsSlotsEvenly) {
  ClusterRecord r = NewCluster("demo", 3);
  ASSERT_EQ(r.shards.size(), 3u);
  EXPECT_EQ(r.shards[0].slots[0], (SlotRange{0, 5461}));
  EXPECT_EQ(r.shards[1].slots[0], (SlotRange{5462, 10922}));
  EXPECT_EQ(r.shards[2].slots[0], (SlotRange{10923, 16383}));
  EXPECT_FALSE(r.Complete());
}

TEST(ClusterRecord, RoundTripsThroughJson) {
  ClusterRecord r = NewCluster("demo", 2);
  r.epoch = 7;
  r.shards[0].master = "a:1";
  r.shards[0].nodes = {"a:1", "b:1"};
  r.shards[0].down = {"b:1"};
  r.shards[1].switching_to = "c:1";
  r.shards[1].switching_until_ms = 42;
  auto parsed = ClusterRecord::FromJson(r.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->ToJson(), r.ToJson());
  EXPECT_FALSE(ClusterRecord::FromJson("{\"shards\": [{\"slots\": [[1]]}]}").ok());
  EXPECT_FALSE(ClusterRecord::FromJson("{\"shards\": [{\"nodes\": 5}]}").ok());
  EXPECT_FALSE(ClusterRecord::FromJson("{\"epoch\": \"x\", \"shards\": []}").ok());
}

TEST(ClusterRecord, PublishedTopologyLeavesDownNodesOutOfReplicas) {
  ClusterRecord r = NewCluster("demo", 1);
  r.epoch = 3;
  r.shards[0].master = "a:1";
  r.shards[0].nodes = {"a:1", "b:1", "c:1"};
  r.shards[0].down = {"c:1"};
  ASSERT_TRUE(r.Complete());
  auto doc = nlohmann::json::parse(PublishedTopology(r));
  EXPECT_EQ(doc["cluster"], "demo");
  EXPECT_EQ(doc["epoch"], 3);
  EXPECT_EQ(doc["shards"][0]["master"], "a:1");
  EXPECT_EQ(doc["shards"][0]["replicas"], nlohmann::json::array({"b:1"}));
  auto topology = Topology::FromJson(PublishedTopology(r));
  ASSERT_TRUE(topology.ok()) << topology.error();
}

TEST(ClusterRecord, OnlyPublishedChangesMoveTheEpoch) {
  ClusterRecord a = NewCluster("demo", 1);
  a.shards[0].master = "a:1";
  a.shards[0].nodes = {"a:1", "b:1"};
  ClusterRecord b = a;
  b.shards[0].switching_to = "b:1";  // internal bookkeeping only
  EXPECT_FALSE(PublishedTopologyDiffers(a, b));
  b.shards[0].down = {"b:1"};
  EXPECT_TRUE(PublishedTopologyDiffers(a, b));
}

TEST(ClusterRecord, NamesAreKubernetesStyle) {
  EXPECT_TRUE(ValidName("demo-1"));
  EXPECT_FALSE(ValidName(""));
  EXPECT_FALSE(ValidName("Demo"));
  EXPECT_FALSE(ValidName("a/b"));
  EXPECT_FALSE(ValidName(std::string(64, 'a')));
}

}  // namespace
}  // namespace redkube::configserver
