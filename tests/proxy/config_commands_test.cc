#include "proxy/config_commands.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/config_relay.h"
#include "proxy/reply_merger.h"

namespace redkube::proxy {
namespace {

std::string Pairs(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& s : items) out += "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
  return out;
}

TEST(ConfigGet, AgreeingServersShowNoDifference) {
  std::string a = Pairs({"maxmemory", "0", "port", "7000"});
  std::string b = Pairs({"maxmemory", "0", "port", "7001"});  // a port differs by design
  EXPECT_EQ(FirstConfigDifference(a, b), "");
}

TEST(ConfigGet, ASharedParameterThatDiffersIsNamed) {
  std::string a = Pairs({"maxmemory-policy", "noeviction", "timeout", "0"});
  std::string b = Pairs({"maxmemory-policy", "allkeys-lru", "timeout", "0"});
  std::string d = FirstConfigDifference(a, b);
  EXPECT_NE(d.find("maxmemory-policy"), std::string::npos) << d;
  EXPECT_NE(d.find("allkeys-lru"), std::string::npos) << d;
}

TEST(ConfigGet, Resp3MapsAreComparedToo) {
  std::string a = "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n";
  std::string b = "%1\r\n$9\r\nmaxmemory\r\n$3\r\n100\r\n";
  EXPECT_NE(FirstConfigDifference(a, b).find("maxmemory is '0'"), std::string::npos);
  EXPECT_EQ(FirstConfigDifference(a, a), "");
}

TEST(ConfigGet, NotAnArrayIsNoDifference) {
  EXPECT_EQ(FirstConfigDifference("-ERR x\r\n", Pairs({"a", "b"})), "");
  EXPECT_EQ(FirstConfigDifference(Pairs({"a"}), Pairs({"a", "b"})), "");
}

TEST(ConfigGet, TheMergerAnswersTheFirstShard) {
  ReplyMerger m;
  m.Reset(ReplyMerger::Kind::kConfigGet, 2);
  m.SetPart(0, Pairs({"maxmemory", "100"}));
  m.SetPart(1, Pairs({"maxmemory", "200"}));
  std::string out;
  m.Finish(&out);
  EXPECT_EQ(out, Pairs({"maxmemory", "100"}));
}

TEST(ConfigRelay, RepliesCarryTheConfigServersError) {
  EXPECT_EQ(ConfigRelay::ReplyFor(200, "{}"), "+OK\r\n");
  EXPECT_EQ(
      ConfigRelay::ReplyFor(400, R"({"error": "CONFIG SET refused by h:1 (shard shard-0): ERR bad\nx"})"),
      "-ERR CONFIG SET refused by h:1 (shard shard-0): ERR bad x\r\n");
  EXPECT_EQ(ConfigRelay::ReplyFor(400, R"({"error": "ERR Unknown option"})"), "-ERR Unknown option\r\n");
  EXPECT_EQ(ConfigRelay::ReplyFor(502, "<html>"), "-ERR the ConfigServer answered HTTP 502\r\n");
}

}  // namespace
}  // namespace redkube::proxy
