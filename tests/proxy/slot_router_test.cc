#include "proxy/slot_router.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/scan_cursor.h"

namespace redkube::proxy {
namespace {

std::shared_ptr<const Topology> Parse(const std::string& doc) {
  auto t = Topology::FromJson(doc);
  EXPECT_TRUE(t.ok()) << t.error();
  return t.value();
}

// Three shards; `migrations` and the second shard's master vary.
std::string Doc(const std::string& migrations = "[]", const std::string& b_master = "127.0.0.1:7002",
                const std::string& b_slots = "[[5000, 9999]]",
                const std::string& c_slots = "[[10000, 16383]]") {
  return R"({"cluster": "t", "epoch": 1, "shards": [
    {"id": "a", "master": "127.0.0.1:7001", "slots": [[0, 4999]]},
    {"id": "b", "master": ")" +
         b_master + R"(", "slots": )" + b_slots + R"(},
    {"id": "c", "master": "127.0.0.1:7003", "slots": )" +
         c_slots + R"(}],
    "migrations": )" +
         migrations + "}";
}

TEST(SlotRouterTest, OwnerAndImporterOfEverySlot) {
  SlotRouter router(Parse(Doc(R"([{"slots": [[10000, 10009]], "from": "c", "to": "a"}])")));
  EXPECT_EQ(router.OwnerOf(0), 0);
  EXPECT_EQ(router.OwnerOf(5000), 1);
  EXPECT_EQ(router.OwnerOf(10005), 2);
  EXPECT_EQ(router.ImporterOf(10005), 0);
  EXPECT_TRUE(router.Migrating(10009));
  EXPECT_FALSE(router.Migrating(10010));
  EXPECT_EQ(router.ImporterOf(10010), -1);
  EXPECT_EQ(router.IndexOf("c"), 2);
  EXPECT_EQ(router.IndexOf("nope"), -1);
}

TEST(SlotRouterTest, AChannelOfAMovingSlotIsListenedToOnBothSides) {
  SlotRouter still(Parse(Doc()));
  // "foo" hashes to slot 12182 (shard c).
  ASSERT_EQ(KeySlot("foo"), 12182);
  int shards[2];
  ASSERT_EQ(still.ChannelShards("foo", shards), 1);
  EXPECT_EQ(shards[0], 2);
  SlotRouter moving(Parse(Doc(R"([{"slots": [[12182, 12182]], "from": "c", "to": "b"}])")));
  ASSERT_EQ(moving.ChannelShards("foo", shards), 2);
  EXPECT_EQ(shards[0], 2);
  EXPECT_EQ(shards[1], 1);
}

TEST(SlotRouterTest, ScanWalksEveryMigrationsSourceBeforeItsTarget) {
  SlotRouter plain(Parse(Doc()));
  EXPECT_EQ(std::vector<int>(plain.scan_order().begin(), plain.scan_order().end()),
            (std::vector<int>{0, 1, 2}));
  // c -> a and b -> c: b, then c, then a.
  SlotRouter moving(Parse(Doc(R"([{"slots": [[10000, 10001]], "from": "c", "to": "a"},
                                  {"slots": [[5000, 5001]], "from": "b", "to": "c"}])")));
  EXPECT_EQ(std::vector<int>(moving.scan_order().begin(), moving.scan_order().end()),
            (std::vector<int>{1, 2, 0}));
}

TEST(SlotRouterTest, TheScanLayoutTagChangesWithSlotsMastersAndMigrations) {
  const uint32_t base = SlotRouter(Parse(Doc())).scan_layout_tag();
  EXPECT_NE(base, 0u);
  EXPECT_EQ(SlotRouter(Parse(Doc())).scan_layout_tag(), base) << "a layout tags alike wherever it is parsed";
  EXPECT_NE(SlotRouter(Parse(Doc("[]", "127.0.0.1:7102"))).scan_layout_tag(), base) << "master changed";
  EXPECT_NE(
      SlotRouter(Parse(Doc("[]", "127.0.0.1:7002", "[[5000, 10000]]", "[[10001, 16383]]"))).scan_layout_tag(),
      base)
      << "a slot moved";
  EXPECT_NE(
      SlotRouter(Parse(Doc(R"([{"slots": [[10000, 10000]], "from": "c", "to": "a"}])"))).scan_layout_tag(),
      base)
      << "a migration began";
}

TEST(ScanCursorTest, RoundTripsAndStartsAtZero) {
  ScanCursor c{123456789, 7, 4242};
  auto parsed = ScanCursor::Parse(std::to_string(c.Encode()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->backend, 123456789u);
  EXPECT_EQ(parsed->position, 7u);
  EXPECT_EQ(parsed->tag, 4242u);
  EXPECT_TRUE(ScanCursor::Parse("0")->IsStart());
  EXPECT_FALSE(ScanCursor::Parse("-1"));
  EXPECT_FALSE(ScanCursor::Parse("12x"));
  // The start of a later shard is never 0 (which would end the walk).
  EXPECT_NE((ScanCursor{0, 1, 1}).Encode(), 0u);
  EXPECT_TRUE(ScanCursor::Fits((uint64_t{1} << ScanCursor::kBackendBits) - 1));
  EXPECT_FALSE(ScanCursor::Fits(uint64_t{1} << ScanCursor::kBackendBits));
  for (uint64_t h : {0ull, 1ull, 262142ull, 262143ull, ~0ull}) {
    uint32_t tag = ScanCursor::TagOf(h);
    EXPECT_GE(tag, 1u);
    EXPECT_LT(tag, 1u << ScanCursor::kTagBits);
  }
}

}  // namespace
}  // namespace redkube::proxy

namespace redkube::proxy {
namespace {

TEST(SlotRouterTest, KnowsTheKeysTheMoverHolds) {
  // "foo" (hex 666f6f) and "{foo}x" share slot 12182; only "foo" is held.
  SlotRouter router(
      Parse(Doc(R"([{"slots": [[12182, 12182]], "from": "c", "to": "a", "held_keys": ["666f6f"]}])")));
  EXPECT_TRUE(router.Held(12182, "foo"));
  EXPECT_FALSE(router.Held(12182, "{foo}x"));
  EXPECT_FALSE(router.Held(KeySlot("bar"), "bar"));
  std::vector<std::string_view> argv = {"MGET", "{foo}x", "foo"};
  std::vector<uint32_t> first = {1}, both = {1, 2};
  EXPECT_FALSE(router.AnyHeld(12182, argv, first));
  EXPECT_TRUE(router.AnyHeld(12182, argv, both));
  // Without holds nothing is held.
  SlotRouter free_router(Parse(Doc(R"([{"slots": [[12182, 12182]], "from": "c", "to": "a"}])")));
  EXPECT_FALSE(free_router.Held(12182, "foo"));
}

}  // namespace
}  // namespace redkube::proxy
