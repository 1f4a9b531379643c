#include "core/slot.h"

#include <gtest/gtest.h>

namespace redkube {
namespace {

TEST(SlotTest, Crc16MatchesTheRedisClusterSpecExample) {
  // The Redis Cluster specification: CRC16 of "123456789" is 0x31C3.
  EXPECT_EQ(Crc16("123456789", 9), 0x31C3);
}

TEST(SlotTest, KnownSlots) {
  // Values from redis-cli CLUSTER KEYSLOT / the cluster tutorial.
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("hello"), 866);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(SlotTest, HashTags) {
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("{user1000}.followers"), KeySlot("{user1000}.following"));
  // Only the first {...} counts; an empty tag hashes the whole key.
  EXPECT_EQ(KeySlot("foo{}{bar}"), Crc16("foo{}{bar}", 10) & 16383);
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("{"), Crc16("{", 1) & 16383);
  EXPECT_EQ(KeySlot("a{b"), Crc16("a{b", 3) & 16383);
}

}  // namespace
}  // namespace redkube
