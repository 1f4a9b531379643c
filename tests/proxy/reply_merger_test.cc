#include "proxy/reply_merger.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/info_merge.h"

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

// RESP3 (a RESP3 client's parts come from RESP3 server connections): each
// kind reads the RESP3 forms and answers in them, as redis-server 7.0 would.
TEST(ReplyMergerResp3Test, MgetKeepsNullsAsTheyCame) {
  ReplyMerger merger;
  merger.Reset(ReplyMerger::Kind::kMgetByPosition, 2);
  merger.positions = {{1, 0}, {0, 0}, {1, 1}};
  merger.SetPart(0, "*1\r\n_\r\n");
  merger.SetPart(1, "*2\r\n$1\r\nx\r\n_\r\n");
  std::string out;
  merger.Finish(&out);
  EXPECT_EQ(out, "*3\r\n$1\r\nx\r\n_\r\n_\r\n");
}

TEST(ReplyMergerResp3Test, RandomKeyOfEmptyShardsIsTheResp3Null) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kRandomNonNil, {"_\r\n", "_\r\n"}), "_\r\n");
  EXPECT_EQ(Merge(ReplyMerger::Kind::kRandomNonNil, {"_\r\n", "$1\r\nk\r\n"}), "$1\r\nk\r\n");
  EXPECT_EQ(Merge(ReplyMerger::Kind::kRandomNonNil, {"$-1\r\n", "$-1\r\n"}), "$-1\r\n");
}

TEST(ReplyMergerResp3Test, SumPairsReadsAndAnswersMaps) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumPairs,
                  {"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:0\r\n", "%2\r\n$1\r\na\r\n:2\r\n$1\r\nb\r\n:4\r\n"}),
            "%2\r\n$1\r\na\r\n:3\r\n$1\r\nb\r\n:4\r\n");
  // A map of the wrong size, or a truncated one, is a mismatch.
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumPairs, {"%1\r\n$1\r\na\r\n:1\r\n", "%2\r\n$1\r\na\r\n:2\r\n"}),
            kMismatch);
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumPairs, {"%x\r\n"}), kMismatch);
}

TEST(ReplyMergerResp3Test, ConcatAndAndAcceptSetsAndArrays) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kConcatArrays, {"~1\r\n$1\r\na\r\n", "*1\r\n$1\r\nb\r\n"}),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(Merge(ReplyMerger::Kind::kAndArrays, {"*2\r\n:1\r\n:1\r\n", "*2\r\n:1\r\n:0\r\n"}),
            "*2\r\n:1\r\n:0\r\n");
}

TEST(ReplyMergerResp3Test, InfoOfVerbatimPartsIsVerbatim) {
  ReplyMerger merger;
  merger.Reset(ReplyMerger::Kind::kInfo, 2);
  std::string_view args[] = {"keyspace"};
  merger.info_selection = InfoSelection(args);
  std::string a = "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n";
  std::string b = "# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n";
  merger.SetPart(0, "=" + std::to_string(a.size() + 4) + "\r\ntxt:" + a + "\r\n");
  merger.SetPart(1, "=" + std::to_string(b.size() + 4) + "\r\ntxt:" + b + "\r\n");
  std::string out;
  merger.Finish(&out);
  // The text INFO merges to (info_merge_test's business), as a verbatim string.
  std::vector<std::string_view> texts = {a, b};
  std::string body = MergeInfo(merger.info_selection, "", texts);
  EXPECT_NE(body.find("db0:keys=5,expires=1"), std::string::npos) << body;
  EXPECT_EQ(out, "=" + std::to_string(body.size() + 4) + "\r\ntxt:" + body + "\r\n");
}

TEST(ReplyMergerResp3Test, BlobErrorPartIsTheResult) {
  EXPECT_EQ(Merge(ReplyMerger::Kind::kSumIntegers, {":1\r\n", "!5\r\nERR x\r\n"}), "!5\r\nERR x\r\n");
}

}  // namespace
}  // namespace redkube::proxy
