#include "proxy/replica_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace redkube::proxy {
namespace {

constexpr std::string_view kInfo =
    "# Replication\r\n"
    "role:master\r\n"
    "connected_slaves:3\r\n"
    "slave0:ip=127.0.0.1,port=7001,state=online,offset=1200,lag=0\r\n"
    "slave1:ip=127.0.0.1,port=7002,state=online,offset=1200,lag=5\r\n"
    "slave2:ip=127.0.0.1,port=7003,state=wait_bgsave,offset=0,lag=0\r\n"
    "master_repl_offset:1200\r\n";

OffsetHistory At(std::initializer_list<std::pair<int64_t, int64_t>> samples, int64_t window_ms = 10000) {
  OffsetHistory h(window_ms);
  for (auto [t, offset] : samples) h.Record(t, offset);
  return h;
}

TEST(ReplicasInSyncTest, OnlineAndAcknowledgingWithinTheBound) {
  std::vector<std::pair<std::string, uint16_t>> replicas = {
      {"127.0.0.1", 7003}, {"127.0.0.1", 7002}, {"127.0.0.1", 7001}};
  auto history = At({{1000, 1200}});
  EXPECT_EQ(ReplicasInSync(kInfo, replicas, 2, history, 1000), (std::vector<size_t>{2}));
  std::vector<size_t> lenient = ReplicasInSync(kInfo, replicas, 5, history, 1000);
  std::sort(lenient.begin(), lenient.end());
  EXPECT_EQ(lenient, (std::vector<size_t>{1, 2}));
}

TEST(ReplicasInSyncTest, AReplicaAcknowledgingOldDataIsNotInSync) {
  // Acknowledges every second, but only offset 500, which the master passed
  // 3 s ago: its data is 3 s old.
  constexpr std::string_view info =
      "slave0:ip=127.0.0.1,port=7001,state=online,offset=500,lag=0\r\nmaster_repl_offset:9000\r\n";
  auto history = At({{1000, 400}, {2000, 500}, {3000, 4000}, {5000, 9000}});
  EXPECT_EQ(history.DataLagMs(500, 5000), 3000);
  EXPECT_TRUE(ReplicasInSync(info, {{"127.0.0.1", 7001}}, 2, history, 5000).empty());
  EXPECT_EQ(ReplicasInSync(info, {{"127.0.0.1", 7001}}, 3, history, 5000), (std::vector<size_t>{0}));
}

TEST(OffsetHistoryTest, LagIsZeroWhenCaughtUpAndLongWhenOlderThanTheSamples) {
  auto history = At({{0, 100}, {1000, 200}, {2000, 300}}, /*window_ms=*/1500);
  EXPECT_EQ(history.DataLagMs(300, 2000), 0);
  EXPECT_EQ(history.DataLagMs(250, 2500), 1500);
  EXPECT_GE(history.DataLagMs(50, 2000), 1500);  // the 0 ms sample fell out of the window
  EXPECT_EQ(OffsetHistory(1500).DataLagMs(0, 0), 1500);
}

TEST(ReplicasInSyncTest, UnknownToTheMasterOrOtherAddressIsNotInSync) {
  auto history = At({{1000, 1200}});
  EXPECT_TRUE(ReplicasInSync(kInfo, {{"127.0.0.2", 7001}, {"127.0.0.1", 7009}}, 10, history, 1000).empty());
  EXPECT_TRUE(
      ReplicasInSync("role:master\r\nconnected_slaves:0\r\n", {{"127.0.0.1", 7001}}, 10, history, 1000)
          .empty());
  EXPECT_TRUE(ReplicasInSync("slave0:garbage\r\nslave1:ip=127.0.0.1,port=x,state=online,lag=0\r\n",
                             {{"127.0.0.1", 7001}}, 10, history, 1000)
                  .empty());
}

}  // namespace
}  // namespace redkube::proxy
