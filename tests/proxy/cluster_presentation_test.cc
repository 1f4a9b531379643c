#include "proxy/cluster_presentation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/reply_scanner.h"
#include "proxy/cluster_commands.h"
#include "proxy/routing_table.h"

namespace redkube::proxy {
namespace {

ListedProxy Listed(std::string id, std::string host, uint16_t port, int64_t seen_ms = 1000) {
  ListedProxy p;
  p.id = std::move(id);
  p.node_id = ClusterNodeId(p.id);
  p.address = {std::move(host), port};
  p.epoch = 7;
  p.seen_ms = seen_ms;
  return p;
}

std::vector<std::string_view> Elements(std::string_view reply) {
  std::vector<std::string_view> out;
  EXPECT_TRUE(SplitArray(reply, &out)) << reply;
  return out;
}

TEST(ClusterNodeIdTest, FortyLowercaseHexCharactersStablePerProxyId) {
  const std::string id = ClusterNodeId("proxy-0");
  ASSERT_EQ(id.size(), 40u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_EQ(id, ClusterNodeId("proxy-0"));
  EXPECT_NE(id, ClusterNodeId("proxy-1"));
  // SHA-1("proxy-0"), so that every proxy computes the same id for a peer.
  EXPECT_EQ(ClusterNodeId("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(ClusterPresentationTest, MyselfIsThePrimaryAndTheOtherLiveProxiesItsReplicas) {
  ProxyList list({Listed("proxy-1", "127.0.0.1", 7001), Listed("proxy-0", "127.0.0.1", 7000),
                  Listed("proxy-2", "127.0.0.1", 7002)});
  ClusterPresentation view("proxy-1", {"127.0.0.1", 7001}, list, 12);
  ASSERT_EQ(view.nodes().size(), 3u);
  EXPECT_TRUE(view.myself().myself);
  EXPECT_TRUE(view.myself().primary);
  EXPECT_EQ(view.myself().node_id, ClusterNodeId("proxy-1"));
  EXPECT_EQ(view.nodes()[1].node_id, ClusterNodeId("proxy-0")) << "replicas by id";
  EXPECT_EQ(view.nodes()[2].node_id, ClusterNodeId("proxy-2"));
  EXPECT_FALSE(view.nodes()[1].primary);
}

TEST(ClusterPresentationTest, AnEntryAtMyAddressUnderAnotherIdIsMeToo) {
  // A previous run of this proxy under another id lingers until it expires.
  ProxyList list({Listed("old-name", "10.0.0.5", 6379), Listed("proxy-b", "10.0.0.6", 6379)});
  ClusterPresentation view("new-name", {"10.0.0.5", 6379}, list, 1);
  ASSERT_EQ(view.nodes().size(), 2u);
  EXPECT_EQ(view.nodes()[1].address.host, "10.0.0.6");
}

TEST(ClusterPresentationTest, WithoutAListOnlyMyself) {
  ClusterPresentation view("solo", {"127.0.0.1", 6380}, ProxyList(), 3);
  ASSERT_EQ(view.nodes().size(), 1u);
  EXPECT_EQ(view.SlotsReply(), "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:6380\r\n$40\r\n" +
                                   ClusterNodeId("solo") + "\r\n*0\r\n");
}

TEST(ClusterPresentationTest, SlotsIsOneRangeOfEverySlotWithThePrimaryFirst) {
  ProxyList list({Listed("a", "127.0.0.1", 7000), Listed("b", "127.0.0.1", 7001)});
  ClusterPresentation view("b", {"127.0.0.1", 7001}, list, 5);
  const std::string reply = view.SlotsReply();  // the elements point into it
  auto ranges = Elements(reply);
  ASSERT_EQ(ranges.size(), 1u);
  auto range = Elements(ranges[0]);
  ASSERT_EQ(range.size(), 4u);  // start, end, primary, one replica
  EXPECT_EQ(range[0], ":0\r\n");
  EXPECT_EQ(range[1], ":16383\r\n");
  auto primary = Elements(range[2]);
  ASSERT_EQ(primary.size(), 4u);  // ip, port, id, metadata (7.0)
  EXPECT_EQ(primary[1], ":7001\r\n");
  EXPECT_EQ(primary[2], "$40\r\n" + ClusterNodeId("b") + "\r\n");
  EXPECT_EQ(primary[3], "*0\r\n");
  EXPECT_EQ(Elements(range[3])[1], ":7000\r\n");
}

TEST(ClusterPresentationTest, ShardsListsOneShardWithRedisFieldsPerNode) {
  ProxyList list({Listed("a", "127.0.0.1", 7000), Listed("b", "127.0.0.1", 7001)});
  ClusterPresentation view("a", {"127.0.0.1", 7000}, list, 5);
  const std::string reply = view.ShardsReply();
  auto shards = Elements(reply);
  ASSERT_EQ(shards.size(), 1u);
  auto shard = Elements(shards[0]);
  ASSERT_EQ(shard.size(), 4u);
  EXPECT_EQ(shard[0], "$5\r\nslots\r\n");
  EXPECT_EQ(shard[1], "*2\r\n:0\r\n:16383\r\n");
  EXPECT_EQ(shard[2], "$5\r\nnodes\r\n");
  auto nodes = Elements(shard[3]);
  ASSERT_EQ(nodes.size(), 2u);
  auto primary = Elements(nodes[0]);
  std::vector<std::string> names;
  for (size_t i = 0; i < primary.size(); i += 2) {
    std::string_view name;
    ASSERT_TRUE(ParseStringReply(primary[i], &name));
    names.emplace_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"id", "port", "ip", "endpoint", "role", "replication-offset",
                                             "health"}));
  EXPECT_EQ(primary[9], "$6\r\nmaster\r\n");
  EXPECT_EQ(Elements(nodes[1])[9], "$7\r\nreplica\r\n");
}

TEST(ClusterPresentationTest, NodeLinesHaveRedisLayout) {
  ProxyList list({Listed("a", "127.0.0.1", 7000, 1796173360543), Listed("b", "127.0.0.1", 7001)});
  ClusterPresentation view("a", {"127.0.0.1", 7000}, list, 9);
  const std::string a = ClusterNodeId("a"), b = ClusterNodeId("b");
  EXPECT_EQ(view.NodeLine(view.nodes()[0]), a + " 127.0.0.1:7000@0 myself,master - 0 0 9 connected 0-16383");
  EXPECT_EQ(view.NodeLine(view.nodes()[1]), b + " 127.0.0.1:7001@0 slave " + a + " 0 1000 9 connected");
  EXPECT_EQ(view.NodesText(), view.NodeLine(view.nodes()[0]) + "\n" + view.NodeLine(view.nodes()[1]) + "\n");
}

TEST(ClusterPresentationTest, ReplicasOfThePrimaryOrRedisErrors) {
  ProxyList list({Listed("a", "127.0.0.1", 7000), Listed("b", "127.0.0.1", 7001)});
  ClusterPresentation view("a", {"127.0.0.1", 7000}, list, 9);
  const std::string reply = view.ReplicasReply(ClusterNodeId("a"));
  auto replicas = Elements(reply);
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0], "$" + std::to_string(view.NodeLine(view.nodes()[1]).size()) + "\r\n" +
                             view.NodeLine(view.nodes()[1]) + "\r\n");
  EXPECT_EQ(view.ReplicasReply(ClusterNodeId("b")), "-ERR The specified node is not a master\r\n");
  EXPECT_EQ(view.ReplicasReply("nope"), "-ERR Unknown node nope\r\n");
}

TEST(ClusterPresentationTest, InfoHasRedisFieldsWithEveryNodeAndTheEpoch) {
  ProxyList list({Listed("a", "127.0.0.1", 7000), Listed("b", "127.0.0.1", 7001)});
  const std::string info = ClusterPresentation("a", {"127.0.0.1", 7000}, list, 42).InfoText();
  for (const char* field :
       {"cluster_state:ok\r\n", "cluster_slots_assigned:16384\r\n", "cluster_slots_ok:16384\r\n",
        "cluster_slots_pfail:0\r\n", "cluster_slots_fail:0\r\n", "cluster_known_nodes:2\r\n",
        "cluster_size:1\r\n", "cluster_current_epoch:42\r\n", "cluster_my_epoch:42\r\n",
        "cluster_stats_messages_sent:0\r\n", "cluster_stats_messages_received:0\r\n",
        "total_cluster_links_buffer_limit_exceeded:0\r\n"}) {
    EXPECT_NE(info.find(field), std::string::npos) << field;
  }
}

TEST(ProxyListTest, ParsesTheConfigServerAnswerAndLeavesOutProxiesWithoutAnAddress) {
  auto list = ProxyList::FromJson(R"({"proxies": [
      {"id": "p2", "address": "10.0.0.2:6379", "epoch": 4, "seen_ms": 99, "seen_ms_ago": 1, "witness": true},
      {"id": "p1", "address": "10.0.0.1:6379", "epoch": 4, "seen_ms": 98},
      {"id": "p3", "address": "", "epoch": 4},
      {"id": "p4", "epoch": 4},
      {"id": "p5", "address": "no-port"},
      {"address": "10.0.0.9:6379"}]})");
  ASSERT_TRUE(list.ok()) << list.error();
  const auto& proxies = list.value()->proxies();
  ASSERT_EQ(proxies.size(), 2u);
  EXPECT_EQ(proxies[0].id, "p1");
  EXPECT_EQ(proxies[0].address, (HostPort{"10.0.0.1", 6379}));
  EXPECT_EQ(proxies[0].node_id, ClusterNodeId("p1"));
  EXPECT_EQ(proxies[0].seen_ms, 98);
  EXPECT_EQ(proxies[1].epoch, 4u);
  EXPECT_FALSE(ProxyList::FromJson("[]").ok());
  EXPECT_FALSE(ProxyList::FromJson("not json").ok());
}

TEST(ClusterCommandsTest, RoutedToTheProxyNotRefused) {
  for (std::vector<std::string_view> argv :
       std::vector<std::vector<std::string_view>>{{"CLUSTER", "SLOTS"},
                                                  {"cluster", "shards"},
                                                  {"CLUSTER", "INFO"},
                                                  {"CLUSTER", "NODES"},
                                                  {"CLUSTER", "MYID"},
                                                  {"CLUSTER", "KEYSLOT", "k"},
                                                  {"CLUSTER", "COUNTKEYSINSLOT", "1"},
                                                  {"CLUSTER", "GETKEYSINSLOT", "1", "2"},
                                                  {"CLUSTER", "ADDSLOTS", "1"},
                                                  {"READONLY"},
                                                  {"READWRITE"},
                                                  {"ASKING"}}) {
    const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
    ASSERT_NE(spec, nullptr) << argv[0];
    const CommandRoute& route = RoutingTable::Instance().For(*spec);
    EXPECT_EQ(route.route, Route::kLocal) << spec->name;
    EXPECT_EQ(route.local, FindClusterCommand(spec->name)) << spec->name;
  }
  EXPECT_EQ(FindClusterCommand("get"), nullptr);
}

}  // namespace
}  // namespace redkube::proxy
