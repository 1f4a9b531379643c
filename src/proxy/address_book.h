// The IPv4 addresses of the backend host names, resolved off the event loops.
//
// Backend addresses may be DNS names (on Kubernetes, a pod's stable name such
// as redis-0.shard-0.ns.svc, whose IP changes when the pod is rescheduled).
// A blocking getaddrinfo on a worker thread would stall every client of that
// thread while the DNS server is slow or away, so worker threads never
// resolve: they read an immutable snapshot of name -> address.
//
//  - Update(hosts) resolves, on the caller's thread, the names it has no entry
//    for yet, then publishes them. ProxyServer calls it with every host of a
//    topology before any worker sees that topology, so a connection always
//    finds its name. It blocks for up to one resolver timeout (names are
//    resolved in parallel) and is meant for the topology apply path.
//  - Lookup(address) is what a connection calls when it (re)connects: an
//    atomic snapshot load and a hash lookup, never a resolve. IPv4 literals
//    are answered without an entry. A name that failed to resolve answers its
//    error (naming the host); a name without an entry answers "not resolved
//    yet" and is queued for the background thread.
//  - RequestRefresh(host) queues a name for re-resolution and returns at once:
//    connections call it when a connect fails or an established connection
//    drops, which is how a pod that came back with a new IP is found without
//    a topology change.
//  - A background thread resolves the queued names, retries names that failed
//    (every retry interval) and re-resolves the names of the last Update
//    (every refresh interval), publishing a new snapshot whenever an entry
//    changes. A slow name delays that round's other names, never a lookup.
//
// A name that resolved once keeps its address when a later resolve fails (a
// DNS outage must not take down servers that are up; a connection to a server
// that is gone fails by itself and asks again). Names dropped from the
// topology keep their entry (a connection still draining may reconnect) but
// are refreshed only on request.
//
// Thread-safety: every method may be called from any thread. Lookup takes no
// lock; RequestRefresh takes a mutex that no one holds while resolving.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::proxy {

class AddressBook {
 public:
  // Resolves one host name to an IPv4 address, blocking: the seam for tests.
  // The error says why, naming the host.
  using Resolver = std::function<Result<in_addr>(const std::string& host)>;
  // getaddrinfo (AF_INET): the first address.
  static Result<in_addr> SystemResolve(const std::string& host);

  struct Options {
    Resolver resolve = SystemResolve;
    // How often the names in use are re-resolved without being asked.
    std::chrono::milliseconds refresh_interval{30000};
    // How often a name that failed is tried again, and the least time between
    // two rounds of the background thread (so that a burst of failing
    // connections does not turn into a burst of DNS queries).
    std::chrono::milliseconds retry_interval{1000};
  };

  AddressBook();
  explicit AddressBook(Options options);
  // Stops the background thread: waits for a resolve in progress (bounded by
  // the resolver's timeout, resolv.conf's `timeout` x `attempts`).
  ~AddressBook();
  AddressBook(const AddressBook&) = delete;
  AddressBook& operator=(const AddressBook&) = delete;

  // Resolves the names among `hosts` without an entry (IPv4 literals are
  // skipped) and publishes them; these names are the ones in use from now on.
  // Blocking: never call it on an event loop. A name that does not resolve
  // gets an error entry and is retried in the background.
  void Update(const std::vector<std::string>& hosts);

  // The socket address to connect to (port from `address`). Never blocks on
  // name resolution.
  Result<sockaddr_in> Lookup(const HostPort& address);

  // Queues `host` for re-resolution by the background thread; returns at
  // once. Literals and names already queued are ignored.
  void RequestRefresh(const std::string& host);

  // Snapshots published so far (for tests and logs: it moves whenever an
  // address or error changes).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Every master and replica host of `topology`.
  static std::vector<std::string> HostsOf(const Topology& topology);

 private:
  struct Entry {
    bool ok = false;
    in_addr addr{};
    std::string error;  // when !ok: why, naming the host
    bool operator==(const Entry& other) const {
      return ok == other.ok && addr.s_addr == other.addr.s_addr && error == other.error;
    }
  };
  using Snapshot = std::unordered_map<std::string, Entry>;

  // Resolves `names` (in parallel when there are several) into entries.
  std::vector<Entry> ResolveAll(const std::vector<std::string>& names);
  // Copies the current snapshot with `names[i]` set to `entries[i]` and
  // publishes it if anything changed (logging what did). Under publish_mu_.
  void Publish(const std::vector<std::string>& names, const std::vector<Entry>& entries);
  void Run();

  const Options options_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<uint64_t> version_{0};
  // Serializes snapshot writers (Update and the background thread) so that
  // neither undoes the other's entries.
  std::mutex publish_mu_;
  // Names whose last resolve failed although they have an address (kept).
  // Under publish_mu_: only to log an outage once.
  std::set<std::string> outage_;

  std::mutex mu_;  // guards what follows
  std::condition_variable wake_;
  std::set<std::string> queued_;
  std::vector<std::string> in_use_;
  bool updated_ = false;  // in_use_ or the entries changed: reconsider the deadline
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace redkube::proxy
