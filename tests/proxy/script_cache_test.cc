#include "proxy/script_cache.h"

#include <gtest/gtest.h>

namespace redkube::proxy {
namespace {

TEST(ScriptCacheTest, NamesScriptsAsRedisDoes) {
  // redis-cli SCRIPT LOAD "return 1"
  EXPECT_EQ(ScriptCache::Sha1Hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  ScriptCache cache;
  cache.Add("return 1");
  EXPECT_EQ(cache.Find("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"), "return 1");
  EXPECT_EQ(cache.Find("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"), "return 1");
  EXPECT_FALSE(cache.Find("0000000000000000000000000000000000000000").has_value());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ScriptCacheTest, OldestScriptsGoWhenOverTheBound) {
  ScriptCache cache(/*max_bytes=*/20);
  cache.Add("return 1");   // 8 bytes
  cache.Add("return 22");  // 9
  cache.Add("return 333");  // 10: the first goes
  EXPECT_FALSE(cache.Find(ScriptCache::Sha1Hex("return 1")).has_value());
  EXPECT_TRUE(cache.Find(ScriptCache::Sha1Hex("return 22")).has_value());
  EXPECT_TRUE(cache.Find(ScriptCache::Sha1Hex("return 333")).has_value());
  cache.Add(std::string(21, 'x'));  // bigger than the bound: not kept
  EXPECT_FALSE(cache.Find(ScriptCache::Sha1Hex(std::string(21, 'x'))).has_value());
}

}  // namespace
}  // namespace redkube::proxy
