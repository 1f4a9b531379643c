#include "proxy/script_cache.h"

#include <gtest/gtest.h>

namespace redkube::proxy {
namespace {

using Bodies = std::vector<std::string>;

TEST(ScriptCacheTest, NamesScriptsAsRedisDoesAndKeepsEachOnce) {
  // redis-cli SCRIPT LOAD "return 1"
  EXPECT_EQ(ScriptCache::Sha1Hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  ScriptCache cache;
  cache.Add("return 1");
  cache.Add("return 2");
  cache.Add("return 1");
  EXPECT_EQ(cache.Bodies(), (Bodies{"return 1", "return 2"}));
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(cache.Bodies().empty());
}

TEST(ScriptCacheTest, OldestScriptsGoWhenOverTheBound) {
  ScriptCache cache(/*max_bytes=*/20);
  cache.Add("return 1");    // 8 bytes
  cache.Add("return 22");   // 9
  cache.Add("return 333");  // 10: the first goes
  EXPECT_EQ(cache.Bodies(), (Bodies{"return 22", "return 333"}));
  cache.Add(std::string(21, 'x'));  // bigger than the bound: not kept
  EXPECT_EQ(cache.Bodies(), (Bodies{"return 22", "return 333"}));
}

}  // namespace
}  // namespace redkube::proxy
