// The framing and decoding of etcd's watch stream (gateway JSON), without
// an etcd: the messages below are as etcd 3.4's gateway sends them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "configserver/etcd_client.h"

namespace redkube::configserver {
namespace {

const std::string kCreated =
    R"({"result":{"header":{"cluster_id":"3249","member_id":"3319","revision":"3","raft_term":"2"},"created":true}})";
// A PUT (its type, the enum's zero, left out) and a DELETE in one message.
const std::string kEvents =
    R"({"result":{"header":{"revision":"3"},"events":[)"
    R"({"kv":{"key":"L2EveA==","create_revision":"2","mod_revision":"2","version":"1","value":"aGVsbG8="}},)"
    R"({"type":"DELETE","kv":{"key":"L2EveA==","mod_revision":"3"}}]}})";
const std::string kCompacted =
    R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})";

std::vector<std::string> FeedAll(JsonObjectSplitter* splitter, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const auto& chunk : chunks) {
    auto fed = splitter->Feed(chunk, [&](std::string_view object) {
      out.emplace_back(object);
      return true;
    });
    EXPECT_TRUE(fed.ok()) << fed.error();
    EXPECT_TRUE(fed.ok() && fed.value());
  }
  return out;
}

TEST(JsonObjectSplitterTest, OneObjectPerChunk) {
  JsonObjectSplitter splitter;
  EXPECT_EQ(FeedAll(&splitter, {kCreated + "\n", kEvents + "\n"}),
            (std::vector<std::string>{kCreated, kEvents}));
  EXPECT_EQ(splitter.pending(), 0u);
}

TEST(JsonObjectSplitterTest, ObjectSplitAtEveryByte) {
  const std::string stream = kCreated + "\n" + kEvents + "\n";
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    JsonObjectSplitter splitter;
    auto got = FeedAll(&splitter, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(got, (std::vector<std::string>{kCreated, kEvents})) << "cut at " << cut;
  }
  // And one byte at a time.
  JsonObjectSplitter splitter;
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(FeedAll(&splitter, bytes), (std::vector<std::string>{kCreated, kEvents}));
}

TEST(JsonObjectSplitterTest, SeveralObjectsInOneChunkWithOrWithoutNewlines) {
  JsonObjectSplitter splitter;
  EXPECT_EQ(FeedAll(&splitter, {kCreated + "\r\n" + kEvents + kCompacted + "\n  "}),
            (std::vector<std::string>{kCreated, kEvents, kCompacted}));
}

TEST(JsonObjectSplitterTest, BracesInsideStringsAndEscapesDoNotEndAnObject) {
  const std::string tricky = R"({"a":"}{\"}\\","b":[{"c":"]"}]})";
  JsonObjectSplitter splitter;
  auto got = FeedAll(&splitter, {tricky.substr(0, 9), tricky.substr(9) + "\n"});
  ASSERT_EQ(got, (std::vector<std::string>{tricky}));
  EXPECT_FALSE(nlohmann::json::parse(got[0], nullptr, false).is_discarded());
}

TEST(JsonObjectSplitterTest, GarbageIsAnErrorAndTheSplitterStaysSpent) {
  JsonObjectSplitter splitter;
  int objects = 0;
  auto count = [&](std::string_view) {
    ++objects;
    return true;
  };
  auto fed = splitter.Feed(kCreated + "\nHTTP/1.1 502 Bad Gateway", count);
  EXPECT_FALSE(fed.ok());
  EXPECT_EQ(objects, 1);  // what came before the garbage was delivered
  EXPECT_FALSE(splitter.Feed(kEvents, count).ok());
  EXPECT_EQ(objects, 1);
}

TEST(JsonObjectSplitterTest, AnObjectOverTheLimitIsAnError) {
  JsonObjectSplitter splitter(64);
  auto fed = splitter.Feed(R"({"a":")" + std::string(100, 'x'), [](std::string_view) { return true; });
  EXPECT_FALSE(fed.ok());
}

TEST(JsonObjectSplitterTest, StopsWhenTheConsumerSaysSo) {
  JsonObjectSplitter splitter;
  int objects = 0;
  auto fed = splitter.Feed(kCreated + kEvents, [&](std::string_view) {
    ++objects;
    return false;
  });
  ASSERT_TRUE(fed.ok());
  EXPECT_FALSE(fed.value());
  EXPECT_EQ(objects, 1);
}

TEST(ParseWatchMessageTest, Created) {
  auto m = ParseWatchMessage(kCreated);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->created);
  EXPECT_FALSE(m->canceled);
  EXPECT_EQ(m->revision, 3);
  EXPECT_TRUE(m->events.empty());
}

TEST(ParseWatchMessageTest, PutAndDeleteEvents) {
  auto m = ParseWatchMessage(kEvents);
  ASSERT_TRUE(m.ok()) << m.error();
  ASSERT_EQ(m->events.size(), 2u);
  EXPECT_EQ(m->events[0].type, EtcdEvent::Type::kPut);
  EXPECT_EQ(m->events[0].kv.key, "/a/x");
  EXPECT_EQ(m->events[0].kv.value, "hello");
  EXPECT_EQ(m->events[0].kv.mod_revision, 2);
  EXPECT_EQ(m->events[1].type, EtcdEvent::Type::kDelete);
  EXPECT_EQ(m->events[1].kv.key, "/a/x");
  EXPECT_EQ(m->events[1].kv.mod_revision, 3);
}

TEST(ParseWatchMessageTest, CompactedIsCanceledWithTheCompactRevision) {
  auto m = ParseWatchMessage(kCompacted);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_TRUE(m->canceled);
  EXPECT_EQ(m->compact_revision, 3);
}

TEST(ParseWatchMessageTest, GatewayErrorsAndOddShapesAreErrors) {
  EXPECT_FALSE(ParseWatchMessage(R"({"error":"invalid character 'g'","code":2})").ok());
  EXPECT_FALSE(ParseWatchMessage("not json").ok());
  EXPECT_FALSE(ParseWatchMessage("[1,2]").ok());
  EXPECT_FALSE(ParseWatchMessage(R"({"result":{"events":{"kv":1}}})").ok());
  EXPECT_FALSE(ParseWatchMessage(R"({"result":{"events":[{"type":"MOVE","kv":{}}]}})").ok());
  EXPECT_FALSE(ParseWatchMessage(R"({"result":{"events":[{"type":"PUT"}]}})").ok());
  EXPECT_FALSE(ParseWatchMessage(R"({"result":{"header":{"revision":"x"}}})").ok());
}

}  // namespace
}  // namespace redkube::configserver
