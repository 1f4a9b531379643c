#include "core/reply_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redkube {
namespace {

// Scans `stream` fed one byte at a time and returns the lengths of the
// replies found, or {-1} on an error.
std::vector<int64_t> ScanBytewise(const std::string& stream) {
  std::vector<int64_t> lengths;
  ReplyScanner scanner;
  size_t start = 0;
  for (size_t avail = start + 1; avail <= stream.size(); ++avail) {
    int64_t n = scanner.Scan(stream.data() + start, avail - start);
    if (n < 0) return {-1};
    if (n > 0) {
      lengths.push_back(n);
      start += static_cast<size_t>(n);
      avail = start;
    }
  }
  return lengths;
}

TEST(ReplyScannerTest, FindsBoundariesOfEveryType) {
  std::vector<std::string> replies = {"+OK\r\n",
                                      "-ERR bad\r\n",
                                      ":42\r\n",
                                      "$5\r\nhe\r\no\r\n",
                                      "$-1\r\n",
                                      "*-1\r\n",
                                      "*0\r\n",
                                      "*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n",
                                      "%1\r\n+k\r\n*1\r\n:1\r\n",
                                      "_\r\n",
                                      ",1.5\r\n",
                                      "#t\r\n",
                                      "=7\r\ntxt:abc\r\n",
                                      "|1\r\n+a\r\n+b\r\n:5\r\n",
                                      ">2\r\n+message\r\n+x\r\n"};
  std::string stream;
  std::vector<int64_t> expected;
  for (const auto& r : replies) {
    stream += r;
    expected.push_back(static_cast<int64_t>(r.size()));
  }
  EXPECT_EQ(ScanBytewise(stream), expected);
}

TEST(ReplyScannerTest, RejectsGarbage) {
  EXPECT_EQ(ScanBytewise("?what\r\n"), std::vector<int64_t>{-1});
  EXPECT_EQ(ScanBytewise("$3\r\nabcde\r\n"), std::vector<int64_t>{-1});
}

// Found by reply_fuzzer under UBSan: a map or attribute count this large
// overflowed when doubled into its element count.
TEST(ReplyScannerTest, RefusesAggregateCountsNoServerCouldSend) {
  EXPECT_EQ(ScanBytewise("|7938878571801105093\r\n"), std::vector<int64_t>{-1});
  EXPECT_EQ(ScanBytewise("%4611686018427387904\r\n"), std::vector<int64_t>{-1});
  EXPECT_EQ(ScanBytewise("*2147483648\r\n"), std::vector<int64_t>{-1});
  ReplyScanner scanner;
  const std::string fuzzed = "*1111110000000000010\r\n(\xcb\r\n|0\r\n|07938878571801105093\r\n$";
  EXPECT_EQ(scanner.Scan(fuzzed.data(), fuzzed.size()), -1);
}

TEST(ReplyScannerTest, SplitsArrays) {
  std::vector<std::string_view> elements;
  ASSERT_TRUE(SplitArray("*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n", &elements));
  ASSERT_EQ(elements.size(), 3u);
  EXPECT_EQ(elements[0], "$1\r\na\r\n");
  EXPECT_EQ(elements[1], "$-1\r\n");
  EXPECT_EQ(elements[2], "*1\r\n:1\r\n");
  EXPECT_FALSE(SplitArray(":1\r\n", &elements));
}

TEST(ReplyScannerTest, SplitsAggregatesMapsIntoKeysAndValues) {
  std::vector<std::string_view> elements;
  ASSERT_TRUE(SplitAggregate("%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n", &elements));
  EXPECT_EQ(elements, (std::vector<std::string_view>{"$1\r\na\r\n", ":1\r\n", "$1\r\nb\r\n", "_\r\n"}));
  ASSERT_TRUE(SplitAggregate("~1\r\n+x\r\n", &elements));
  EXPECT_EQ(elements, (std::vector<std::string_view>{"+x\r\n"}));
  EXPECT_FALSE(SplitArray("%1\r\n:1\r\n:2\r\n", &elements));  // a map is not an array
  EXPECT_FALSE(SplitAggregate("%1\r\n:1\r\n", &elements));    // a value short
  EXPECT_FALSE(SplitAggregate("%9999999999\r\n", &elements));
  EXPECT_FALSE(SplitAggregate(":1\r\n", &elements));
}

TEST(ReplyScannerTest, ParsesScalars) {
  int64_t v;
  EXPECT_TRUE(ParseIntegerReply(":-12\r\n", &v));
  EXPECT_EQ(v, -12);
  std::string_view s;
  EXPECT_TRUE(ParseStringReply("$3\r\nabc\r\n", &s));
  EXPECT_EQ(s, "abc");
  EXPECT_FALSE(ParseStringReply("$-1\r\n", &s));
  std::string out;
  AppendBulk(&out, "xy");
  AppendInteger(&out, 7);
  AppendArrayHeader(&out, 2);
  EXPECT_EQ(out, "$2\r\nxy\r\n:7\r\n*2\r\n");
}

}  // namespace
}  // namespace redkube
