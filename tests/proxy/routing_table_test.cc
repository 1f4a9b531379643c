#include "proxy/routing_table.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace redkube::proxy {
namespace {

const CommandRoute& RouteOf(std::vector<std::string_view> argv) {
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  EXPECT_NE(spec, nullptr) << argv[0];
  return RoutingTable::Instance().For(*spec);
}

TEST(RoutingTableTest, EveryCommandHasAnEntryForItsOwnSpec) {
  for (const CommandSpec* spec : CommandIndex::Instance().specs()) {
    const CommandRoute& route = RoutingTable::Instance().For(*spec);
    EXPECT_EQ(route.spec, spec) << spec->name;
    EXPECT_EQ(route.command_index, CommandIndex::Instance().Of(*spec)) << spec->name;
    if (route.route == Route::kLocal) {
      EXPECT_NE(route.local, nullptr) << spec->name;
    }
    if (route.route == Route::kRefuse) {
      EXPECT_FALSE(route.refusal.empty()) << spec->name;
    }
  }
}

TEST(RoutingTableTest, KeyedCommandsGoBySlotAndMayBeQueuedAndReadFromReplicas) {
  const CommandRoute& get = RouteOf({"GET", "k"});
  EXPECT_EQ(get.route, Route::kSlot);
  EXPECT_TRUE(get.Has(kRouteQueuedInMulti));
  EXPECT_TRUE(get.Has(kRouteReplicaReadable));
  const CommandRoute& set = RouteOf({"set", "k", "v"});
  EXPECT_EQ(set.route, Route::kSlot);
  EXPECT_FALSE(set.Has(kRouteReplicaReadable));
  EXPECT_FALSE(RouteOf({"EVALSHA_RO", "x", "0"}).Has(kRouteReplicaReadable))
      << "scripts load on masters only";
}

TEST(RoutingTableTest, SplitsFanOutsAndRefusals) {
  const CommandRoute& mset = RouteOf({"MSET", "a", "1"});
  EXPECT_EQ(mset.route, Route::kSplit);
  EXPECT_EQ(mset.split_stride, 2);
  EXPECT_EQ(RouteOf({"MGET", "a"}).merge, ReplyMerger::Kind::kMgetByPosition);
  EXPECT_EQ(RouteOf({"DBSIZE"}).route, Route::kFanOut);
  EXPECT_EQ(RouteOf({"SCAN", "0"}).route, Route::kScan);
  const CommandRoute& bgsave = RouteOf({"BGSAVE"});
  EXPECT_EQ(bgsave.route, Route::kRefuse);
  EXPECT_EQ(
      RefusalError(*bgsave.spec, bgsave.refusal),
      "-ERR BGSAVE is not supported through the redkube proxy: it administers one server; run it on the "
      "servers directly\r\n");
  // CONFIG (config_commands.h): GET fans out, SET waits for the ConfigServer.
  EXPECT_EQ(RouteOf({"CONFIG", "GET", "x"}).merge, ReplyMerger::Kind::kConfigGet);
  EXPECT_EQ(RouteOf({"CONFIG", "SET", "x", "1"}).route, Route::kLocal);
  EXPECT_TRUE(RouteOf({"CONFIG", "SET", "x", "1"}).Has(kRouteOwnConnection));
  EXPECT_FALSE(RouteOf({"DBSIZE"}).Has(kRouteQueuedInMulti));
}

TEST(RoutingTableTest, BlockingAndOwnConnectionFlags) {
  EXPECT_TRUE(RouteOf({"BLPOP", "k", "0"}).Blocks(std::vector<std::string_view>{"BLPOP", "k", "0"}));
  std::vector<std::string_view> xread{"XREAD", "COUNT", "1", "STREAMS", "s", "0"};
  EXPECT_FALSE(RouteOf(xread).Blocks(xread));
  std::vector<std::string_view> xread_block{"XREAD", "BLOCK", "0", "STREAMS", "s", "0"};
  EXPECT_TRUE(RouteOf(xread_block).Blocks(xread_block));
  // The group and consumer may be named like the options.
  std::vector<std::string_view> group{"XREADGROUP", "GROUP", "streams", "block", "STREAMS", "s", ">"};
  EXPECT_FALSE(RouteOf(group).Blocks(group));
  std::vector<std::string_view> watch{"WATCH", "k"};
  EXPECT_TRUE(RouteOf(watch).UsesOwnConnection(watch, /*in_multi=*/false));
  std::vector<std::string_view> exec{"EXEC"};
  EXPECT_FALSE(RouteOf(exec).UsesOwnConnection(exec, false));
  EXPECT_TRUE(RouteOf(exec).UsesOwnConnection(exec, true));
  std::vector<std::string_view> blpop{"BLPOP", "k", "0"};
  EXPECT_FALSE(RouteOf(blpop).UsesOwnConnection(blpop, true)) << "queued inside MULTI";
}

TEST(RoutingTableTest, SubscribedModeAndAuthAllowances) {
  EXPECT_TRUE(RouteOf({"PING"}).Has(kRouteAllowedWhileSubscribed));
  EXPECT_TRUE(RouteOf({"SSUBSCRIBE", "c"}).Has(kRouteAllowedWhileSubscribed));
  EXPECT_EQ(RouteOf({"PUNSUBSCRIBE"}).subscription, SubscriptionKind::kPattern);
  EXPECT_FALSE(RouteOf({"GET", "k"}).Has(kRouteAllowedWhileSubscribed));
  EXPECT_TRUE(RouteOf({"AUTH", "p"}).Has(kRouteAllowedBeforeAuth));
  EXPECT_TRUE(RouteOf({"HELLO"}).Has(kRouteAllowedBeforeAuth));
  EXPECT_FALSE(RouteOf({"PING"}).Has(kRouteAllowedBeforeAuth));
  EXPECT_EQ(RouteOf({"WATCH", "k"}).transaction, TransactionCommand::kWatch);
}

TEST(RoutingTableTest, WritesAreMarkedForTheLeaseGate) {
  for (std::vector<std::string_view> argv : std::vector<std::vector<std::string_view>>{
           {"SET", "k", "v"},
           {"DEL", "k"},
           {"MSET", "a", "1", "b", "2"},
           {"INCR", "k"},
           {"FLUSHALL"},
           {"EVAL", "return 1", "0"},
           {"EVALSHA", "abc", "0"},
           {"FCALL", "f", "0"},
           {"EXEC"},
           {"LPUSH", "l", "x"},
           {"BLPOP", "l", "0"},
           {"BLMOVE", "a", "b", "LEFT", "LEFT", "0"},
       }) {
    EXPECT_TRUE(RouteOf(argv).Has(kRouteWrites)) << argv[0];
  }
  for (std::vector<std::string_view> argv : std::vector<std::vector<std::string_view>>{
           {"GET", "k"},
           {"MGET", "a", "b"},
           {"EVAL_RO", "return 1", "0"},
           {"EVALSHA_RO", "abc", "0"},
           {"FCALL_RO", "f", "0"},
           {"PING"},
           {"MULTI"},
           {"WATCH", "k"},
           {"SUBSCRIBE", "c"},
           {"PUBLISH", "c", "m"},
           {"SCAN", "0"},
       }) {
    EXPECT_FALSE(RouteOf(argv).Has(kRouteWrites)) << argv[0];
  }
  EXPECT_TRUE(RouteOf({"EXEC"}).Has(kRouteOwnConnectionInMulti)) << "EXEC keeps its other flag";
}

}  // namespace
}  // namespace redkube::proxy
