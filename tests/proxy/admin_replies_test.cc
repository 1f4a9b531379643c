#include "proxy/admin_replies.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redkube::proxy {
namespace {

std::string Merge(ReplyMerger::CustomMerge merge, std::vector<std::string> parts,
                  std::vector<std::string> labels = {}) {
  ReplyMerger m;
  m.part_labels = std::move(labels);
  std::string out;
  merge(parts, m, &out);
  return out;
}

std::string Latest(const std::string& event, int t, int latest, int max) {
  return "*4\r\n$" + std::to_string(event.size()) + "\r\n" + event + "\r\n:" + std::to_string(t) +
         "\r\n:" + std::to_string(latest) + "\r\n:" + std::to_string(max) + "\r\n";
}

TEST(AdminReplies, LatencyLatestTakesTheMaxPerEvent) {
  std::string out =
      Merge(MergeLatencyLatest, {"*2\r\n" + Latest("command", 10, 5, 9) + Latest("fork", 3, 1, 1),
                                 "*1\r\n" + Latest("command", 12, 2, 20), "*0\r\n"});
  EXPECT_EQ(out, "*2\r\n" + Latest("command", 12, 5, 20) + Latest("fork", 3, 1, 1));
}

TEST(AdminReplies, LatencyHistoryIsOrderedByTime) {
  std::string out = Merge(MergeLatencyHistory, {"*2\r\n*2\r\n:5\r\n:10\r\n*2\r\n:9\r\n:1\r\n",
                                                "*2\r\n*2\r\n:7\r\n:3\r\n*2\r\n:9\r\n:4\r\n"});
  EXPECT_EQ(out, "*3\r\n*2\r\n:5\r\n:10\r\n*2\r\n:7\r\n:3\r\n*2\r\n:9\r\n:4\r\n");
}

TEST(AdminReplies, TextsAreLabelledByShard) {
  std::string out = Merge(MergeLabelledText, {"$2\r\nhi\r\n", "+ok\r\n"}, {"s0", "s1"});
  EXPECT_EQ(out, "$40\r\n--- shard s0 ---\nhi\n--- shard s1 ---\nok\n\r\n");
}

TEST(AdminReplies, MemoryStatsSumsAndRecomputes) {
  const std::string a =
      "*10\r\n$14\r\npeak.allocated\r\n:400\r\n$15\r\ntotal.allocated\r\n:200\r\n$17\r\nstartup."
      "allocated\r\n:100\r\n"
      "$4\r\ndb.0\r\n*2\r\n$23\r\noverhead.hashtable.main\r\n:8\r\n$15\r\npeak.percentage\r\n$2\r\n50\r\n";
  const std::string b =
      "*10\r\n$14\r\npeak.allocated\r\n:400\r\n$15\r\ntotal.allocated\r\n:600\r\n$17\r\nstartup."
      "allocated\r\n:100\r\n"
      "$4\r\ndb.0\r\n*2\r\n$23\r\noverhead.hashtable.main\r\n:2\r\n$15\r\npeak.percentage\r\n$3\r\n150\r\n";
  std::string out = Merge(MergeMemoryStats, {a, b});
  EXPECT_EQ(
      out,
      "*10\r\n$14\r\npeak.allocated\r\n:800\r\n$15\r\ntotal.allocated\r\n:800\r\n$17\r\nstartup."
      "allocated\r\n:200\r\n"
      "$4\r\ndb.0\r\n*2\r\n$23\r\noverhead.hashtable.main\r\n:10\r\n$15\r\npeak.percentage\r\n$3\r\n100\r\n");
}

TEST(AdminReplies, Resp3TextsStayVerbatim) {
  std::string out = Merge(MergeLabelledText, {"=6\r\ntxt:hi\r\n", "=6\r\ntxt:ok\r\n"}, {"s0", "s1"});
  EXPECT_EQ(out, "=44\r\ntxt:--- shard s0 ---\nhi\n--- shard s1 ---\nok\n\r\n");
}

TEST(AdminReplies, Resp3MemoryStatsAreMapsWithDoubles) {
  const std::string a =
      "%4\r\n$14\r\npeak.allocated\r\n:400\r\n$15\r\ntotal.allocated\r\n:200\r\n"
      "$4\r\ndb.0\r\n%1\r\n$23\r\noverhead.hashtable.main\r\n:8\r\n$15\r\npeak.percentage\r\n,50\r\n";
  const std::string b =
      "%4\r\n$14\r\npeak.allocated\r\n:400\r\n$15\r\ntotal.allocated\r\n:600\r\n"
      "$4\r\ndb.0\r\n%1\r\n$23\r\noverhead.hashtable.main\r\n:2\r\n$15\r\npeak.percentage\r\n,150\r\n";
  EXPECT_EQ(
      Merge(MergeMemoryStats, {a, b}),
      "%4\r\n$14\r\npeak.allocated\r\n:800\r\n$15\r\ntotal.allocated\r\n:800\r\n"
      "$4\r\ndb.0\r\n%1\r\n$23\r\noverhead.hashtable.main\r\n:10\r\n$15\r\npeak.percentage\r\n,100\r\n");
}

TEST(AdminReplies, UnexpectedRepliesAreAnErrorNotACrash) {
  for (auto merge : {MergeLatencyLatest, MergeLatencyHistory, MergeLabelledText, MergeMemoryStats}) {
    std::string out = Merge(merge, {":1\r\n", "*1\r\n:2\r\n"});
    EXPECT_TRUE(out.starts_with("-ERR")) << out;
  }
}

}  // namespace
}  // namespace redkube::proxy
