#include "proxy/client_listing.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace redkube::proxy {
namespace {

struct Parsed {
  std::optional<std::string> error;
  ClientFilter filter;
  bool old_form = false;
};

Parsed Parse(std::vector<std::string_view> argv, uint64_t asker = 7) {
  Parsed p;
  p.error = ParseKillFilter(argv, asker, &p.filter, &p.old_form);
  return p;
}

ClientState Client(uint64_t id, std::string peer) {
  ClientState s;
  s.id = id;
  s.peer = std::move(peer);
  s.local = "127.0.0.1:6379";
  s.fd = 10;
  return s;
}

TEST(ClientKillFilterTest, OldFormMatchesTheAddressAndMayKillTheAsker) {
  Parsed p = Parse({"CLIENT", "KILL", "1.2.3.4:5"});
  ASSERT_FALSE(p.error);
  EXPECT_TRUE(p.old_form);
  EXPECT_TRUE(p.filter.Matches(Client(7, "1.2.3.4:5"), 0));
  EXPECT_FALSE(p.filter.Matches(Client(8, "1.2.3.4:6"), 0));
}

TEST(ClientKillFilterTest, NewFormSkipsTheAskerUnlessSkipmeNo) {
  Parsed p = Parse({"CLIENT", "KILL", "TYPE", "normal"});
  ASSERT_FALSE(p.error);
  EXPECT_FALSE(p.filter.Matches(Client(7, "a:1"), 0));
  EXPECT_TRUE(p.filter.Matches(Client(8, "a:2"), 0));
  p = Parse({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"});
  EXPECT_TRUE(p.filter.Matches(Client(7, "a:1"), 0));
  p = Parse({"CLIENT", "KILL", "TYPE", "pubsub"});
  EXPECT_FALSE(p.filter.Matches(Client(8, "a:2"), 0));
}

TEST(ClientKillFilterTest, FiltersCombineAndClosedClientsNeverMatch) {
  Parsed p =
      Parse({"CLIENT", "KILL", "ID", "8", "LADDR", "127.0.0.1:6379", "USER", "default", "MAXAGE", "5"});
  ASSERT_FALSE(p.error);
  ClientState young = Client(8, "a:2");
  young.created_ms = 0;
  EXPECT_FALSE(p.filter.Matches(young, 5000));
  EXPECT_TRUE(p.filter.Matches(young, 6000));
  young.fd = -1;
  EXPECT_FALSE(p.filter.Matches(young, 6000));
}

TEST(ClientKillFilterTest, RedisServersErrors) {
  EXPECT_EQ(Parse({"CLIENT", "KILL", "ID", "abc"}).error, "-ERR client-id should be greater than 0\r\n");
  EXPECT_EQ(Parse({"CLIENT", "KILL", "TYPE", "foo"}).error, "-ERR Unknown client type 'foo'\r\n");
  EXPECT_EQ(Parse({"CLIENT", "KILL", "USER", "bob"}).error, "-ERR No such user 'bob'\r\n");
  EXPECT_EQ(Parse({"CLIENT", "KILL", "SKIPME", "maybe"}).error, "-ERR syntax error\r\n");
  EXPECT_EQ(Parse({"CLIENT", "KILL", "ID", "1", "ADDR"}).error, "-ERR syntax error\r\n");
}

TEST(ClientInfoLineTest, FlagsFollowTheClientsState) {
  ClientState s = Client(3, "a:1");
  ClientConnectionView view;
  std::string line = ClientInfoLine(s, view, 0);
  EXPECT_EQ(line.rfind("id=3 addr=a:1 laddr=127.0.0.1:6379 fd=10 name= age=0 idle=0 flags=N db=0 ", 0), 0u);
  s.subscriptions.channels.insert("c");
  view.blocked = true;
  view.writing = true;
  line = ClientInfoLine(s, view, 0);
  EXPECT_NE(line.find(" flags=Pb "), std::string::npos);
  EXPECT_NE(line.find(" sub=1 "), std::string::npos);
  EXPECT_NE(line.find(" events=rw "), std::string::npos);
}

}  // namespace
}  // namespace redkube::proxy
