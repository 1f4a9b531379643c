// The proxy as a witness of its masters' reachability (docs/proxy.md,
// "Fences and the ConfigServer lease"): every 250 ms each master of the
// current topology is sent a PING, answered within 500 ms or counted as
// not reached. Each master has a prober thread of its own, so one that
// hangs delays no other. Any reply (an error too: -LOADING) counts as
// reached. The ConfigServer fails a master over only when every live proxy
// reports it unreachable: the TopologyWatcher carries UnreachableMasters()
// on each long-poll, and polls again at once when the set changes.
//
// Its control thread also checks the ProxyServer's ConfigServer lease
// every 100 ms (ProxyServer::CheckConfigServerLease), so that writes are
// refused on time even while a long-poll hangs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/periodic_thread.h"
#include "core/redis_client.h"
#include "core/topology.h"

namespace redkube::proxy {

class ProxyServer;

class MasterWitness {
 public:
  static constexpr auto kCheckEvery = std::chrono::milliseconds(250);
  static constexpr auto kCheckTimeout = std::chrono::milliseconds(500);

  // `password`: AUTH for the masters (the proxy's backend password).
  // `server` may be nullptr in tests: then the masters are set by
  // SetMasters only, and no lease is checked.
  MasterWitness(ProxyServer* server, std::string password);
  ~MasterWitness();
  MasterWitness(const MasterWitness&) = delete;
  MasterWitness& operator=(const MasterWitness&) = delete;

  // Called (on a prober's thread, no lock held) whenever the set of
  // unreachable addresses changes. Set before Start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  void Start();
  void Stop();

  // The masters to watch ("host:port" as the topology names them); the
  // control thread sets them from the server's topology.
  void SetMasters(const std::set<std::string>& masters);

  // The masters whose latest check failed, each with the milliseconds since
  // it last answered (since it was first watched if it never did), in
  // address order. Thread-safe.
  std::vector<std::pair<std::string, int64_t>> UnreachableMasters() const;
  // "ADDR~MS,ADDR~MS" of UnreachableMasters(): the `unreachable=` value.
  std::string UnreachableReport() const;

 private:
  struct Probe {
    HostPort address;
    int64_t watched_since_ms = 0;
    int64_t last_reached_ms = 0;          // 0: never
    bool failed = false;                  // the latest check failed
    std::unique_ptr<RedisClient> client;  // the prober's thread only
    std::unique_ptr<PeriodicThread> thread;
  };

  void Control();
  void Check(Probe* probe);
  // The unreachable addresses, under mu_.
  std::set<std::string> UnreachableSetLocked() const;

  ProxyServer* server_;
  std::string password_;
  std::function<void()> on_change_;
  mutable std::mutex mu_;  // the probes' state; not held while a PING is out
  std::map<std::string, std::unique_ptr<Probe>> probes_;
  std::mutex change_mu_;            // reports of changes, one at a time
  std::set<std::string> reported_;  // under change_mu_
  // Last, so that it stops before the members its runs use go.
  PeriodicThread control_;
};

}  // namespace redkube::proxy
