#include "runtime/shard_steps.h"

#include <gtest/gtest.h>

namespace redkube::runtime {
namespace {

using nlohmann::json;

json Shard(const std::string& id, const std::string& master, int nodes, int down) {
  json n = json::array(), d = json::array();
  for (int i = 0; i < nodes; ++i) n.push_back("127.0.0.1:" + std::to_string(7000 + i));
  for (int i = 0; i < down; ++i) d.push_back(n[i]);
  return {{"id", id}, {"master", master}, {"nodes", n}, {"down", d}};
}

ClusterView View(const json& doc) {
  auto view = ClusterView::FromJson(doc);
  EXPECT_TRUE(view.ok()) << view.error();
  return view.ok() ? view.value() : ClusterView{};
}

TEST(ShardStepsTest, ReplicationMissingNamesTheFirstShardNotReady) {
  json record = {{"shards", {Shard("shard-0", "127.0.0.1:7000", 2, 0), Shard("shard-1", "", 0, 0)}}};
  EXPECT_EQ(ReplicationMissing(View(record), 2), "shard-1 has no master");
  // Only the shards asked about count (a scale waits for its new ones).
  EXPECT_EQ(ReplicationMissing(View(record), 2, {"shard-0"}), "");
  EXPECT_EQ(ReplicationMissing(View(record), 2, {"shard-2"}), "shard-2 is not in the record");
  record["shards"][1] = Shard("shard-1", "127.0.0.1:7000", 2, 1);
  EXPECT_EQ(ReplicationMissing(View(record), 2), "shard-1 has 1 replica(s) not in sync");
  EXPECT_EQ(ReplicationMissing(View(record), 3, {"shard-0"}), "shard-0 has 2 of 3 nodes registered");
}

TEST(ShardStepsTest, RegisteredAsComparesTheNodesAsASetAndNeedsAMaster) {
  ClusterView view =
      View({{"shards", {Shard("shard-0", "127.0.0.1:7000", 2, 1), Shard("shard-1", "", 0, 0)}}});
  EXPECT_TRUE(RegisteredAs(view.Shard("shard-0"), {"127.0.0.1:7001", "127.0.0.1:7000"}));
  EXPECT_FALSE(RegisteredAs(view.Shard("shard-0"), {"127.0.0.1:7000"}));
  EXPECT_FALSE(RegisteredAs(view.Shard("shard-0"), {"127.0.0.1:7000", "127.0.0.1:7002"}));
  EXPECT_FALSE(RegisteredAs(view.Shard("shard-1"), {}));  // no master: never registered
  EXPECT_FALSE(RegisteredAs(nullptr, {"127.0.0.1:7000"}));
}

}  // namespace
}  // namespace redkube::runtime
