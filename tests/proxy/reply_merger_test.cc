#include "proxy/reply_merger.h"

#include <gtest/gtest.h>

#include <string>

namespace redkube::proxy {
namespace {

std::string Merge(ReplyMerger::Kind kind, std::initializer_list<std::string> parts) {
  ReplyMerger merger;
  merger.Reset(kind, static_cast<uint32_t>(parts.size()));
  uint32_t i = 0;
  for (const auto& p : parts) merger.SetPart(i++, p);
  std::string out;
  merger.Finish(&out);
  return out;
}

constexpr char kMismatch[] = "-ERR redkube: unexpected reply from a backend\r\n";

TEST(ReplyMergerTest, SumsIntegerReplies) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumIntegers, {":2\r\n", ":0\r\n", ":5\r\n"}), ":7\r\n");
}

// Found by reply_fuzzer under UBSan: two huge negative counts overflowed the sum.
TEST(ReplyMergerTest, SumThatOverflowsIsAProtocolMismatch) {
  EXPECT_EQ(
      Merge(ReplyMerger::Kind::kSumIntegers, {":-7999999999999998376\r\n", ":-8000000000000000000\r\n"}),
      kMismatch);
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumIntegers, {":9223372036854775807\r\n", ":1\r\n"}), kMismatch);
}

TEST(ReplyMergerTest, SumPairsAddsByPositionAndRefusesOverflow) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumPairs, {"*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:2\r\n"}),
            "*2\r\n$1\r\na\r\n:3\r\n");
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumPairs,
                  {"*2\r\n$1\r\na\r\n:9223372036854775807\r\n", "*2\r\n$1\r\na\r\n:1\r\n"}),
            kMismatch);
}

}  // namespace
}  // namespace redkube::proxy
