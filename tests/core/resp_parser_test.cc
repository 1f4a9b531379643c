#include "core/resp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redkube {
namespace {

using Args = std::vector<std::string>;

// Feeds `input` in chunks cut at the given points, the way a socket may
// deliver it, and returns every request parsed (or the error).
struct ParseOutcome {
  std::vector<Args> requests;
  std::string error;
};

ParseOutcome ParseInChunks(const std::string& input, const std::vector<size_t>& cuts) {
  ParseOutcome outcome;
  RequestParser parser;
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    buffer.append(input, fed, end - fed);
    fed = end;
    while (!buffer.empty()) {
      size_t consumed = 0;
      auto r = parser.Parse(buffer.data(), buffer.size(), &consumed);
      if (r == RequestParser::Result::kNeedMore) break;
      if (r == RequestParser::Result::kError) {
        outcome.error = parser.error();
        return outcome;
      }
      if (r == RequestParser::Result::kComplete) {
        Args args;
        for (auto a : parser.args()) args.emplace_back(a);
        outcome.requests.push_back(args);
      }
      buffer.erase(0, consumed);
    }
  }
  return outcome;
}

const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
    "PING\r\n"
    "*0\r\n"
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
    "set \"a b\" 'c\\'d'\r\n"
    "\r\n"
    "*1\r\n$4\r\nPING\r\n";

const std::vector<Args> kExpected = {
    {"SET", "key", "va\r\nl"}, {"PING"}, {"GET", ""}, {"set", "a b", "c'd"}, {"PING"}};

TEST(RequestParserTest, ParsesAPipelineInOneGo) {
  auto outcome = ParseInChunks(kPipeline, {});
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.requests, kExpected);
}

TEST(RequestParserTest, EverySplitPointParsesTheSame) {
  for (size_t cut = 1; cut < kPipeline.size(); ++cut) {
    auto outcome = ParseInChunks(kPipeline, {cut});
    EXPECT_EQ(outcome.requests, kExpected) << "cut at " << cut;
  }
}

TEST(RequestParserTest, ByteByByteParsesTheSame) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kPipeline.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(ParseInChunks(kPipeline, cuts).requests, kExpected);
}

TEST(RequestParserTest, EveryTwoSplitPointsParseTheSame) {
  for (size_t a = 1; a < kPipeline.size(); a += 3) {
    for (size_t b = a + 1; b < kPipeline.size(); b += 2) {
      ASSERT_EQ(ParseInChunks(kPipeline, {a, b}).requests, kExpected) << a << "," << b;
    }
  }
}

TEST(RequestParserTest, ProtocolErrorsUseRedisWording) {
  EXPECT_EQ(ParseInChunks("*abc\r\n", {}).error, "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseInChunks("*1\r\n$-5\r\n", {}).error, "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseInChunks("*1\r\n$536870913\r\n", {}).error, "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseInChunks("*2000000000\r\n", {}).error, "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseInChunks("*1\r\n+PING\r\n", {}).error, "Protocol error: expected '$', got '+'");
  EXPECT_EQ(ParseInChunks("set \"a\r\n", {}).error, "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ParseInChunks(std::string(70000, 'a'), {}).error, "Protocol error: too big inline request");
}

TEST(RequestParserTest, LargeBulkReportsMissingBytes) {
  RequestParser parser;
  std::string head = "*2\r\n$3\r\nSET\r\n$1000000\r\n";
  size_t consumed;
  ASSERT_EQ(parser.Parse(head.data(), head.size(), &consumed), RequestParser::Result::kNeedMore);
  EXPECT_EQ(parser.pending_bulk_bytes(), 1000002u);
  std::string full = head + std::string(1000000, 'x') + "\r\n";
  ASSERT_EQ(parser.Parse(full.data(), full.size(), &consumed), RequestParser::Result::kComplete);
  EXPECT_EQ(consumed, full.size());
  EXPECT_EQ(parser.args()[1].size(), 1000000u);
  EXPECT_TRUE(parser.multibulk());
}

TEST(RequestParserTest, InlineHexEscapes) {
  auto outcome = ParseInChunks("echo \"\\x41\\n\"\r\n", {});
  ASSERT_EQ(outcome.requests.size(), 1u);
  EXPECT_EQ(outcome.requests[0][1], "A\n");
}

}  // namespace
}  // namespace redkube
