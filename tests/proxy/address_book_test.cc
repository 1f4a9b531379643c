#include "proxy/address_book.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <future>
#include <map>

namespace redkube::proxy {
namespace {

using namespace std::chrono_literals;

in_addr Ip(const char* text) {
  in_addr addr{};
  inet_pton(AF_INET, text, &addr);
  return addr;
}

std::string Ip(const sockaddr_in& addr) {
  char text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  return text;
}

// A DNS the test edits: name -> IPv4 text; a missing name does not resolve.
// A name can be held: resolving it blocks until released, as a slow DNS
// server would.
class FakeDns {
 public:
  void Set(const std::string& name, const char* ip) {
    std::lock_guard lock(mu_);
    records_[name] = ip;
  }
  void Remove(const std::string& name) {
    std::lock_guard lock(mu_);
    records_.erase(name);
  }
  void Hold(const std::string& name) {
    std::lock_guard lock(mu_);
    held_ = name;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_.clear();
    }
    cv_.notify_all();
  }
  // Waits until `name` is being resolved (and held).
  bool WaitUntilHeld(const std::string& name) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return holding_ == name; });
  }
  int calls(const std::string& name) {
    std::lock_guard lock(mu_);
    return calls_[name];
  }

  AddressBook::Options Options(std::chrono::milliseconds refresh = 30s,
                               std::chrono::milliseconds retry = 10ms) {
    AddressBook::Options o;
    o.resolve = [this](const std::string& host) { return Resolve(host); };
    o.refresh_interval = refresh;
    o.retry_interval = retry;
    return o;
  }

 private:
  Result<in_addr> Resolve(const std::string& host) {
    std::unique_lock lock(mu_);
    ++calls_[host];
    if (held_ == host) {
      holding_ = host;
      cv_.notify_all();
      cv_.wait(lock, [&] { return held_ != host; });
      holding_.clear();
    }
    auto it = records_.find(host);
    if (it == records_.end()) return Status::Error("cannot resolve host " + host + ": fake NXDOMAIN");
    return Ip(it->second.c_str());
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> records_;
  std::map<std::string, int> calls_;
  std::string held_, holding_;
};

// Polls `lookup` until its address is `ip`: what a reconnecting connection
// sees. Bounded, never a fixed sleep.
bool EventuallyResolvesTo(AddressBook& book, const std::string& host, const std::string& ip) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = book.Lookup({host, 6379});
    if (r.ok() && Ip(r.value()) == ip) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

TEST(AddressBookTest, LiteralsNeedNoLookup) {
  FakeDns dns;
  AddressBook book(dns.Options());
  auto r = book.Lookup({"10.1.2.3", 7001});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Ip(r.value()), "10.1.2.3");
  EXPECT_EQ(ntohs(r.value().sin_port), 7001);
  EXPECT_EQ(r.value().sin_family, AF_INET);
  book.Update({"10.1.2.3"});
  EXPECT_EQ(dns.calls("10.1.2.3"), 0);
  EXPECT_EQ(book.version(), 0u);
}

TEST(AddressBookTest, ResolvesLocalhostWithTheSystemResolver) {
  AddressBook book;
  book.Update({"localhost"});
  auto r = book.Lookup({"localhost", 6379});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Ip(r.value()), "127.0.0.1");
  EXPECT_EQ(ntohs(r.value().sin_port), 6379);
}

TEST(AddressBookTest, AnUnresolvableNameIsAnErrorNamingIt) {
  AddressBook book;
  book.Update({"no-such-host.invalid", "localhost"});
  auto bad = book.Lookup({"no-such-host.invalid", 6379});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("cannot resolve host no-such-host.invalid"), std::string::npos) << bad.error();
  // The other name of the same update is not held back by it.
  auto good = book.Lookup({"localhost", 6379});
  ASSERT_TRUE(good.ok()) << good.error();
}

TEST(AddressBookTest, ALookupNeverWaitsForTheResolver) {
  FakeDns dns;
  dns.Set("slow.example", "10.0.0.7");
  dns.Set("fast.example", "10.0.0.8");
  AddressBook book(dns.Options());
  book.Update({"fast.example"});
  dns.Hold("slow.example");
  // The topology apply path blocks on the slow DNS server...
  auto update = std::async(std::launch::async, [&] { book.Update({"fast.example", "slow.example"}); });
  ASSERT_TRUE(dns.WaitUntilHeld("slow.example"));
  // ...a connection meanwhile gets an answer at once: an error for the name
  // being resolved, the address for the one already known.
  auto lookups = std::async(std::launch::async, [&] {
    return std::make_pair(book.Lookup({"slow.example", 6379}), book.Lookup({"fast.example", 6379}));
  });
  ASSERT_EQ(lookups.wait_for(2s), std::future_status::ready) << "Lookup waited for the resolver";
  auto [slow, fast] = lookups.get();
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.error().find("slow.example not resolved yet"), std::string::npos) << slow.error();
  ASSERT_TRUE(fast.ok()) << fast.error();
  EXPECT_EQ(Ip(fast.value()), "10.0.0.8");
  dns.Release();
  update.get();
  auto after = book.Lookup({"slow.example", 6379});
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(Ip(after.value()), "10.0.0.7");
}

TEST(AddressBookTest, ARefreshWhileTheResolverIsSlowKeepsAnsweringTheOldAddress) {
  FakeDns dns;
  dns.Set("redis-0", "10.0.0.1");
  AddressBook book(dns.Options());
  book.Update({"redis-0"});
  dns.Set("redis-0", "10.0.0.2");
  dns.Hold("redis-0");
  book.RequestRefresh("redis-0");
  ASSERT_TRUE(dns.WaitUntilHeld("redis-0"));
  auto during = std::async(std::launch::async, [&] { return book.Lookup({"redis-0", 6379}); });
  ASSERT_EQ(during.wait_for(2s), std::future_status::ready) << "Lookup waited for the resolver";
  auto r = during.get();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Ip(r.value()), "10.0.0.1");
  dns.Release();
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-0", "10.0.0.2"));
}

TEST(AddressBookTest, ARefreshPublishesANewSnapshot) {
  FakeDns dns;
  dns.Set("redis-0.shard-0.ns.svc", "10.0.0.1");
  AddressBook book(dns.Options());
  book.Update({"redis-0.shard-0.ns.svc"});
  uint64_t before = book.version();
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-0.shard-0.ns.svc", "10.0.0.1"));
  // The pod is rescheduled: same name, new IP. Nothing re-resolves it until
  // asked (the periodic refresh is 30 s away).
  dns.Set("redis-0.shard-0.ns.svc", "10.0.0.2");
  EXPECT_EQ(Ip(book.Lookup({"redis-0.shard-0.ns.svc", 6379}).value()), "10.0.0.1");
  book.RequestRefresh("redis-0.shard-0.ns.svc");
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-0.shard-0.ns.svc", "10.0.0.2"));
  EXPECT_GT(book.version(), before);
}

TEST(AddressBookTest, NamesInUseAreReResolvedPeriodically) {
  FakeDns dns;
  dns.Set("redis-0", "10.0.0.1");
  AddressBook book(dns.Options(/*refresh=*/50ms));
  book.Update({"redis-0"});
  dns.Set("redis-0", "10.0.0.2");
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-0", "10.0.0.2"));
}

TEST(AddressBookTest, ANameThatFailedIsRetriedInTheBackground) {
  FakeDns dns;
  AddressBook book(dns.Options());
  book.Update({"redis-1"});
  auto r = book.Lookup({"redis-1", 6379});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot resolve host redis-1"), std::string::npos) << r.error();
  // The record appears (the pod got scheduled): no one has to ask.
  dns.Set("redis-1", "10.0.0.9");
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-1", "10.0.0.9"));
}

TEST(AddressBookTest, ANameNotGivenIsResolvedForTheNextAttempt) {
  FakeDns dns;
  dns.Set("elsewhere", "10.0.0.5");
  AddressBook book(dns.Options());
  auto first = book.Lookup({"elsewhere", 6379});
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().find("elsewhere not resolved yet"), std::string::npos) << first.error();
  EXPECT_TRUE(EventuallyResolvesTo(book, "elsewhere", "10.0.0.5"));
}

TEST(AddressBookTest, AFailedReResolveKeepsTheLastAddress) {
  FakeDns dns;
  dns.Set("redis-0", "10.0.0.1");
  dns.Set("marker", "10.0.0.3");
  AddressBook book(dns.Options());
  book.Update({"redis-0"});
  dns.Remove("redis-0");  // a DNS outage
  book.RequestRefresh("redis-0");
  // Rounds run one after the other: once a name asked for later is in, the
  // round that re-resolved redis-0 is over.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (dns.calls("redis-0") < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_GE(dns.calls("redis-0"), 2);
  book.RequestRefresh("marker");
  ASSERT_TRUE(EventuallyResolvesTo(book, "marker", "10.0.0.3"));
  auto r = book.Lookup({"redis-0", 6379});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Ip(r.value()), "10.0.0.1");
}

TEST(AddressBookTest, KnownNamesAreNotResolvedAgainByAnUpdate) {
  FakeDns dns;
  dns.Set("redis-0", "10.0.0.1");
  dns.Set("redis-1", "10.0.0.2");
  AddressBook book(dns.Options());
  book.Update({"redis-0"});
  // A failover's topology must not wait on DNS for the names it already had.
  dns.Hold("redis-0");
  auto update = std::async(std::launch::async, [&] { book.Update({"redis-0", "redis-1"}); });
  bool done = update.wait_for(2s) == std::future_status::ready;
  dns.Release();
  EXPECT_TRUE(done) << "Update resolved a name it already had";
  EXPECT_EQ(dns.calls("redis-0"), 1);
  EXPECT_TRUE(EventuallyResolvesTo(book, "redis-1", "10.0.0.2"));
}

TEST(AddressBookTest, HostsOfATopologyAreItsMastersAndReplicas) {
  auto t = Topology::FromJson(R"({"cluster": "t", "epoch": 1, "shards": [
      {"id": "a", "master": "redis-0.a:6379", "replicas": ["redis-1.a:6379"], "slots": [[0, 8191]]},
      {"id": "b", "master": "10.0.0.1:6379", "replicas": [], "slots": [[8192, 16383]]}],
      "migrations": []})");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(AddressBook::HostsOf(*t.value()),
            (std::vector<std::string>{"redis-0.a", "redis-1.a", "10.0.0.1"}));
}

}  // namespace
}  // namespace redkube::proxy
