#include "core/topology.h"

#include <gtest/gtest.h>

namespace redkube {
namespace {

std::string Doc(const std::string& shards, const std::string& migrations = "[]") {
  return R"({"cluster": "t", "epoch": 3, "shards": )" + shards + R"(, "migrations": )" + migrations + "}";
}

const char kTwoShards[] =
    R"([{"id": "a", "master": "127.0.0.1:7001", "replicas": ["127.0.0.1:7101"], "slots": [[0, 8191]]},
        {"id": "b", "master": "127.0.0.1:7002", "slots": [[8192, 16000], [16001, 16383]]}])";

TEST(TopologyTest, ParsesAValidDocument) {
  auto t = Topology::FromJson(Doc(kTwoShards, R"([{"slots": [[10, 20]], "from": "a", "to": "b"}])"));
  ASSERT_TRUE(t.ok()) << t.error();
  const Topology& topology = *t.value();
  EXPECT_EQ(topology.cluster(), "t");
  EXPECT_EQ(topology.epoch(), 3u);
  ASSERT_EQ(topology.shards().size(), 2u);
  EXPECT_EQ(topology.shards()[0].replicas[0].port, 7101);
  EXPECT_EQ(topology.ShardIndexForSlot(0), 0);
  EXPECT_EQ(topology.ShardIndexForSlot(8191), 0);
  EXPECT_EQ(topology.ShardIndexForSlot(8192), 1);
  EXPECT_EQ(topology.ShardIndexForSlot(16383), 1);
  ASSERT_EQ(topology.migrations().size(), 1u);
  // Round trip.
  auto again = Topology::FromJson(topology.ToJson());
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again.value()->ToJson(), topology.ToJson());
}

TEST(TopologyTest, AFencedShardIsReadAndWrittenBack) {
  auto t = Topology::FromJson(Doc(
      R"([{"id": "a", "master": "127.0.0.1:7001", "slots": [[0, 8191]], "fenced": true},
          {"id": "b", "master": "127.0.0.1:7002", "slots": [[8192, 16383]], "fenced": false}])"));
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE(t.value()->shards()[0].fenced);
  EXPECT_FALSE(t.value()->shards()[1].fenced);
  auto again = Topology::FromJson(t.value()->ToJson());
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again.value()->shards()[0].fenced);
  EXPECT_FALSE(again.value()->shards()[1].fenced);
  // Unfenced shards leave the field out, as topologies before it had none.
  EXPECT_EQ(t.value()->ToJson().find(R"("fenced":false)"), std::string::npos);
  auto bad = Topology::FromJson(Doc(R"([{"id": "a", "master": "127.0.0.1:7001", "slots": [[0, 16383]],
                                         "fenced": "yes"}])"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("fenced"), std::string::npos) << bad.error();
}

TEST(TopologyTest, KnowsTheImporterOfEveryMigratingSlot) {
  auto t =
      Topology::FromJson(Doc(kTwoShards, R"([{"slots": [[10, 20], [30, 30]], "from": "a", "to": "b"}])"));
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t.value()->ImporterIndexForSlot(10), 1);
  EXPECT_EQ(t.value()->ImporterIndexForSlot(20), 1);
  EXPECT_EQ(t.value()->ImporterIndexForSlot(30), 1);
  EXPECT_EQ(t.value()->ImporterIndexForSlot(21), -1);
  EXPECT_EQ(t.value()->ImporterIndexForSlot(9000), -1);
}

void ExpectError(const std::string& json, const std::string& fragment) {
  auto t = Topology::FromJson(json);
  ASSERT_FALSE(t.ok()) << json;
  EXPECT_NE(t.error().find(fragment), std::string::npos) << t.error();
}

TEST(TopologyTest, NamesTheProblem) {
  ExpectError("{", "not valid JSON");
  ExpectError(Doc("[]"), "non-empty array");
  ExpectError(Doc(R"([{"id": "a", "master": "127.0.0.1:7001", "slots": [[0, 100]]}])"),
              "slots 101..16383 are not assigned");
  ExpectError(Doc(R"([{"id": "a", "master": "127.0.0.1:7001", "slots": [[0, 16383]]},
                      {"id": "b", "master": "127.0.0.1:7002", "slots": [[5, 5]]}])"),
              "slot 5 is assigned twice: to shard a and to shard b");
  ExpectError(Doc(R"([{"id": "a", "master": "127.0.0.1", "slots": [[0, 16383]]}])"), "not host:port");
  ExpectError(Doc(R"([{"id": "a", "master": "127.0.0.1:99999", "slots": [[0, 16383]]}])"), "valid port");
  ExpectError(Doc(R"([{"id": "a", "master": "h:1", "slots": [[0, 16384]]}])"), "outside 0..16383");
  ExpectError(Doc(R"([{"id": "a", "master": "h:1", "slots": [[0, 16383]]},
                      {"id": "a", "master": "h:2", "slots": []}])"),
              "duplicate shard id");
  ExpectError(Doc(kTwoShards, R"([{"slots": [[9000, 9001]], "from": "a", "to": "b"}])"),
              "slot 9000 is not owned by a");
  ExpectError(Doc(kTwoShards, R"([{"slots": [[10, 20]], "from": "a", "to": "b"},
                                  {"slots": [[20, 21]], "from": "a", "to": "b"}])"),
              "slot 20 is already in another migration");
  ExpectError(R"({"cluster": "t", "epoch": -1, "shards": []})", "epoch");
}

// A migration of `key`'s slot (which must be shard a's) holding `held`.
std::string HoldingDoc(std::string_view key, const std::string& held) {
  int slot = KeySlot(key);
  return Doc(kTwoShards, R"([{"slots": [[)" + std::to_string(slot) + ", " + std::to_string(slot) +
                             R"(]], "from": "a", "to": "b", "held_keys": )" + held + "}]");
}

TEST(TopologyTest, ParsesHeldKeysAsHexOfTheirBytes) {
  const std::string key("big\x00\x02", 5);  // any bytes: slot 2371 is a's
  ASSERT_LT(KeySlot(key), 8192);
  auto t = Topology::FromJson(HoldingDoc(key, R"(["6269670002"])"));
  ASSERT_TRUE(t.ok()) << t.error();
  ASSERT_EQ(t.value()->migrations()[0].held_keys.size(), 1u);
  EXPECT_EQ(t.value()->migrations()[0].held_keys[0], key);
  // Round trip, hex again.
  EXPECT_NE(t.value()->ToJson().find(R"("held_keys":["6269670002"])"), std::string::npos);
  auto again = Topology::FromJson(t.value()->ToJson());
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again.value()->migrations()[0].held_keys, t.value()->migrations()[0].held_keys);
}

TEST(TopologyTest, RefusesHeldKeysThatAreNotHexOrNotInTheMigration) {
  const std::string key("big\x00\x02", 5);
  ExpectError(HoldingDoc(key, R"(["62696700AB"])"), "held key \"62696700AB\" is not lowercase hex");
  ExpectError(HoldingDoc(key, R"(["626"])"), "is not lowercase hex");
  ExpectError(HoldingDoc(key, R"(["zz"])"), "is not lowercase hex");
  ExpectError(HoldingDoc(key, R"([42])"), "each held key must be a hex string");
  ExpectError(HoldingDoc(key, R"("62")"), "\"held_keys\" must be an array");
  // "foo" hashes to slot 12182, not the migrating one.
  ExpectError(HoldingDoc(key, R"(["666f6f"])"),
              "held key \"666f6f\" (slot 12182) is not in the migration's slots");
}

TEST(TopologyTest, ParsesHostPort) {
  auto hp = ParseHostPort("redis-0.redis:6379");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "redis-0.redis");
  EXPECT_EQ(hp->port, 6379);
  EXPECT_FALSE(ParseHostPort(":1").ok());
  EXPECT_FALSE(ParseHostPort("h:0").ok());
  EXPECT_FALSE(ParseHostPort("h:x").ok());
}

}  // namespace
}  // namespace redkube
