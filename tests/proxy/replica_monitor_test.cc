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
    "slave1:ip=127.0.0.1,port=7002,state=online,offset=900,lag=5\r\n"
    "slave2:ip=127.0.0.1,port=7003,state=wait_bgsave,offset=0,lag=0\r\n"
    "master_repl_offset:1200\r\n";

TEST(ReplicasInSyncTest, OnlineWithinTheLagBound) {
  std::vector<std::pair<std::string, uint16_t>> replicas = {
      {"127.0.0.1", 7003}, {"127.0.0.1", 7002}, {"127.0.0.1", 7001}};
  EXPECT_EQ(ReplicasInSync(kInfo, replicas, 2), (std::vector<size_t>{2}));
  std::vector<size_t> lenient = ReplicasInSync(kInfo, replicas, 5);
  std::sort(lenient.begin(), lenient.end());
  EXPECT_EQ(lenient, (std::vector<size_t>{1, 2}));
}

TEST(ReplicasInSyncTest, UnknownToTheMasterOrOtherAddressIsNotInSync) {
  EXPECT_TRUE(ReplicasInSync(kInfo, {{"127.0.0.2", 7001}, {"127.0.0.1", 7009}}, 10).empty());
  EXPECT_TRUE(ReplicasInSync("role:master\r\nconnected_slaves:0\r\n", {{"127.0.0.1", 7001}}, 10).empty());
  EXPECT_TRUE(ReplicasInSync("slave0:garbage\r\nslave1:ip=127.0.0.1,port=x,state=online,lag=0\r\n",
                             {{"127.0.0.1", 7001}}, 10)
                  .empty());
}

}  // namespace
}  // namespace redkube::proxy
