#include "proxy/slow_log.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace redkube::proxy {
namespace {

std::vector<std::string> RoundTrip(std::vector<std::string_view> argv) {
  std::string captured;
  SlowLogArgs::Capture(argv, &captured);
  return SlowLogArgs::Expand(captured);
}

TEST(SlowLogArgsTest, KeepsShortRequestsWhole) {
  EXPECT_EQ(RoundTrip({"GET", "key"}), (std::vector<std::string>{"GET", "key"}));
  EXPECT_EQ(RoundTrip({"SET", "", "v"}), (std::vector<std::string>{"SET", "", "v"}));
}

TEST(SlowLogArgsTest, CutsLongArgumentsAndSaysHowManyBytesAndArgumentsWereLeft) {
  std::string big(SlowLogArgs::kMaxArgBytes + 10, 'x');
  auto args = RoundTrip({"MSET", big, "v", "k2", "v2", "k3"});
  ASSERT_EQ(args.size(), SlowLogArgs::kMaxArgs + 1);
  EXPECT_EQ(args[1], std::string(SlowLogArgs::kMaxArgBytes, 'x') + "... (10 more bytes)");
  EXPECT_EQ(args.back(), "... (2 more arguments)");
}

TEST(SlowLogArgsTest, ReusedBufferHoldsOnlyTheLastRequest) {
  std::string captured;
  std::vector<std::string_view> first = {"LPUSH", "a-long-list-name", "1", "2", "3"};
  std::vector<std::string_view> second = {"PING"};
  SlowLogArgs::Capture(first, &captured);
  SlowLogArgs::Capture(second, &captured);
  EXPECT_EQ(SlowLogArgs::Expand(captured), (std::vector<std::string>{"PING"}));
}

TEST(SlowLogTest, ThresholdNewestFirstBoundedAndReset) {
  SlowLog log(/*threshold_us=*/100, /*max_len=*/2);
  EXPECT_FALSE(log.IsSlow(99));
  EXPECT_TRUE(log.IsSlow(100));
  for (int i = 0; i < 3; ++i) {
    SlowLogEntry e;
    e.duration_us = 100 + i;
    log.Add(e);
  }
  auto all = log.Newest(-1);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, 2u);
  EXPECT_EQ(all[1].id, 1u);
  EXPECT_EQ(log.Newest(1).size(), 1u);
  EXPECT_EQ(log.total(), 3u);
  log.Reset();
  EXPECT_EQ(log.Length(), 0u);
  EXPECT_EQ(log.total(), 3u);
}

TEST(SlowLogTest, NegativeThresholdDisables) {
  SlowLog log(-1, 128);
  EXPECT_FALSE(log.IsSlow(INT64_MAX));
}

}  // namespace
}  // namespace redkube::proxy
