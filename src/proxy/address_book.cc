#include "proxy/address_book.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace redkube::proxy {
namespace {

// Enough to resolve a topology's new names in about one resolver timeout
// without a thread per name for a cluster of hundreds of shards.
constexpr size_t kMaxParallelResolves = 16;

bool IsLiteral(const std::string& host) {
  in_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

std::string Ip(in_addr addr) {
  char text[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &addr, text, sizeof(text));
  return text;
}

}  // namespace

Result<in_addr> AddressBook::SystemResolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::string why = rc == EAI_SYSTEM ? strerror(errno) : rc != 0 ? gai_strerror(rc) : "no address";
    return Status::Error("cannot resolve host " + host + ": " + why);
  }
  in_addr addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return addr;
}

AddressBook::AddressBook() : AddressBook(Options{}) {}

AddressBook::AddressBook(Options options)
    : options_(std::move(options)), snapshot_(std::make_shared<const Snapshot>()) {
  thread_ = std::thread([this] { Run(); });
}

AddressBook::~AddressBook() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<std::string> AddressBook::HostsOf(const Topology& topology) {
  std::vector<std::string> hosts;
  for (const auto& shard : topology.shards()) {
    hosts.push_back(shard.master.host);
    for (const auto& r : shard.replicas) hosts.push_back(r.host);
  }
  return hosts;
}

void AddressBook::Update(const std::vector<std::string>& hosts) {
  std::vector<std::string> names;
  for (const auto& h : hosts) {
    if (!IsLiteral(h) && std::find(names.begin(), names.end(), h) == names.end()) names.push_back(h);
  }
  std::vector<std::string> fresh;
  {
    auto current = snapshot_.load(std::memory_order_acquire);
    for (const auto& n : names) {
      if (!current->count(n)) fresh.push_back(n);
    }
  }
  // Names already known keep their address: the background thread keeps them
  // current, and a topology change (a failover) must not wait on DNS for them.
  Publish(fresh, ResolveAll(fresh));
  {
    std::lock_guard lock(mu_);
    in_use_ = std::move(names);
    updated_ = true;
  }
  wake_.notify_all();  // a name that failed is retried from now on
}

Result<sockaddr_in> AddressBook::Lookup(const HostPort& address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(address.port);
  if (inet_pton(AF_INET, address.host.c_str(), &addr.sin_addr) == 1) return addr;
  auto current = snapshot_.load(std::memory_order_acquire);
  auto it = current->find(address.host);
  if (it == current->end()) {
    // Not from a topology we were given (or not yet): have it resolved for
    // the next attempt rather than resolving here.
    RequestRefresh(address.host);
    return Status::Error("host " + address.host + " not resolved yet");
  }
  if (!it->second.ok) return Status::Error(it->second.error);
  addr.sin_addr = it->second.addr;
  return addr;
}

void AddressBook::RequestRefresh(const std::string& host) {
  if (IsLiteral(host)) return;
  {
    std::lock_guard lock(mu_);
    if (!queued_.insert(host).second) return;
  }
  wake_.notify_all();
}

std::vector<AddressBook::Entry> AddressBook::ResolveAll(const std::vector<std::string>& names) {
  std::vector<Entry> entries(names.size());
  auto resolve = [&](size_t i) {
    auto r = options_.resolve(names[i]);
    if (r.ok()) {
      entries[i].ok = true;
      entries[i].addr = r.value();
    } else {
      entries[i].error = r.error();
    }
  };
  if (names.size() <= 1) {
    if (!names.empty()) resolve(0);
    return entries;
  }
  // In parallel, so that one slow name costs one resolver timeout, not one
  // per name.
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (size_t t = 0; t < std::min(names.size(), kMaxParallelResolves); ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < names.size();) resolve(i);
    });
  }
  for (auto& t : pool) t.join();
  return entries;
}

void AddressBook::Publish(const std::vector<std::string>& names, const std::vector<Entry>& entries) {
  if (names.empty()) return;
  std::lock_guard lock(publish_mu_);
  auto next = std::make_shared<Snapshot>(*snapshot_.load(std::memory_order_acquire));
  bool changed = false;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const Entry& e = entries[i];
    auto it = next->find(name);
    if (it == next->end()) {
      if (e.ok) {
        spdlog::info("backend host {} resolves to {}", name, Ip(e.addr));
      } else {
        spdlog::warn("{}; connections to it fail until it does (retried in the background)", e.error);
      }
      next->emplace(name, e);
      changed = true;
      continue;
    }
    Entry& old = it->second;
    if (!e.ok && old.ok) {
      // A DNS outage must not take down servers that are up: the last address
      // stays (a connection to it fails by itself if the server went away).
      if (outage_.insert(name).second) spdlog::warn("{}; keeping its last address {}", e.error, Ip(old.addr));
      continue;
    }
    if (e.ok && outage_.erase(name) && old == e) spdlog::info("backend host {} resolves again", name);
    if (old == e) continue;
    if (e.ok) {
      spdlog::info("backend host {} now resolves to {} (was {})", name, Ip(e.addr),
                   old.ok ? Ip(old.addr) : old.error);
    }
    old = e;
    changed = true;
  }
  if (!changed) return;
  snapshot_.store(std::move(next), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

void AddressBook::Run() {
  using Clock = std::chrono::steady_clock;
  auto next_refresh = Clock::now() + options_.refresh_interval;
  auto next_retry = Clock::now() + options_.retry_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    bool failing = false;
    for (const auto& [name, e] : *snapshot_.load(std::memory_order_acquire)) failing |= !e.ok;
    auto deadline = failing ? std::min(next_refresh, next_retry) : next_refresh;
    wake_.wait_until(lock, deadline, [&] { return stopping_ || updated_ || !queued_.empty(); });
    if (stopping_) return;
    updated_ = false;  // the loop's next turn recomputes `failing`
    auto now = Clock::now();
    std::set<std::string> names;
    names.swap(queued_);
    if (now >= next_refresh) {
      names.insert(in_use_.begin(), in_use_.end());
      next_refresh = now + options_.refresh_interval;
    }
    if (now >= next_retry) {
      for (const auto& [name, e] : *snapshot_.load(std::memory_order_acquire)) {
        if (!e.ok) names.insert(name);
      }
      next_retry = now + options_.retry_interval;
    }
    if (names.empty()) continue;
    lock.unlock();
    std::vector<std::string> list(names.begin(), names.end());
    Publish(list, ResolveAll(list));
    lock.lock();
    // The least time between two rounds: connections failing in a burst ask
    // for the same names again and again.
    wake_.wait_for(lock, options_.retry_interval, [&] { return stopping_; });
  }
}

}  // namespace redkube::proxy
