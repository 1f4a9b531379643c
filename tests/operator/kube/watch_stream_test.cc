#include "operator/kube/watch_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redkube::kube {
namespace {

std::vector<std::string> FeedAll(WatchLineSplitter& splitter, const std::vector<std::string>& chunks) {
  std::vector<std::string> lines;
  for (const auto& chunk : chunks) {
    auto fed = splitter.Feed(chunk, [&](std::string_view line) {
      lines.emplace_back(line);
      return true;
    });
    EXPECT_TRUE(fed.ok()) << fed.error();
  }
  return lines;
}

TEST(WatchLineSplitterTest, LinesSplitAcrossChunksAreReassembled) {
  WatchLineSplitter splitter;
  auto lines = FeedAll(splitter, {"{\"a\":", "1}\n{\"b\"", ":2}\n{\"c\":3}\n{\"d\""});
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_EQ(splitter.pending(), 4u);  // {"d" waits for the rest
  lines = FeedAll(splitter, {":4}\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"d\":4}"}));
  EXPECT_EQ(splitter.pending(), 0u);
}

TEST(WatchLineSplitterTest, EmptyLinesAndCarriageReturnsAreSkipped) {
  WatchLineSplitter splitter;
  auto lines = FeedAll(splitter, {"\n\nx\r\n", "\r", "\n", "y\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"x", "y"}));
}

TEST(WatchLineSplitterTest, OneByteAtATime) {
  WatchLineSplitter splitter;
  std::string stream = "first\nsecond\nthird\n";
  std::vector<std::string> chunks;
  for (char c : stream) chunks.emplace_back(1, c);
  EXPECT_EQ(FeedAll(splitter, chunks), (std::vector<std::string>{"first", "second", "third"}));
}

TEST(WatchLineSplitterTest, StopsWhenTheConsumerSaysSo) {
  WatchLineSplitter splitter;
  int seen = 0;
  auto fed = splitter.Feed("a\nb\nc\n", [&](std::string_view) { return ++seen < 2; });
  ASSERT_TRUE(fed.ok());
  EXPECT_FALSE(fed.value());
  EXPECT_EQ(seen, 2);
}

TEST(WatchLineSplitterTest, AnOverlongLineIsAnError) {
  WatchLineSplitter splitter(8);
  auto on_line = [](std::string_view) { return true; };
  EXPECT_TRUE(splitter.Feed("12345", on_line).ok());
  EXPECT_FALSE(splitter.Feed("67890", on_line).ok());
  WatchLineSplitter second(8);
  EXPECT_TRUE(second.Feed("12345", on_line).ok());
  EXPECT_FALSE(second.Feed("67890\n", on_line).ok());
  WatchLineSplitter fits(8);
  EXPECT_TRUE(fits.Feed("1234", on_line).ok());
  EXPECT_TRUE(fits.Feed("5678\n", on_line).ok());
}

TEST(ParseWatchEventTest, KnownTypes) {
  auto added = ParseWatchEvent(
      R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"x","resourceVersion":"41"}}})");
  ASSERT_TRUE(added.ok()) << added.error();
  EXPECT_EQ(added->type, WatchEventType::kAdded);
  EXPECT_EQ(added->object["metadata"]["name"], "x");
  EXPECT_EQ(added->ResourceVersion(), "41");

  auto modified = ParseWatchEvent(R"({"type":"MODIFIED","object":{"metadata":{}}})");
  ASSERT_TRUE(modified.ok());
  EXPECT_EQ(modified->type, WatchEventType::kModified);
  EXPECT_EQ(modified->ResourceVersion(), "");

  auto deleted = ParseWatchEvent(R"({"type":"DELETED","object":{"metadata":{"resourceVersion":"7"}}})");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->type, WatchEventType::kDeleted);

  auto bookmark = ParseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"99"}}})");
  ASSERT_TRUE(bookmark.ok());
  EXPECT_EQ(bookmark->type, WatchEventType::kBookmark);
  EXPECT_EQ(bookmark->ResourceVersion(), "99");

  auto gone =
      ParseWatchEvent(R"js({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)js"
                      R"js("message":"too old resource version: 1 (57)","reason":"Expired","code":410}})js");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->type, WatchEventType::kError);
  EXPECT_EQ(gone->object["code"], 410);
  EXPECT_EQ(gone->ResourceVersion(), "");
}

TEST(ParseWatchEventTest, MalformedLinesAreErrors) {
  EXPECT_FALSE(ParseWatchEvent("not json").ok());
  EXPECT_FALSE(ParseWatchEvent("[1,2]").ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"ADDED"})").ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"object":{}})").ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"RENAMED","object":{}})").ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"ADDED","object":"x"})").ok());
}

}  // namespace
}  // namespace redkube::kube
