// Follows a cluster's topology on the ConfigServer: long-polls
// GET /v1/clusters/NAME/topology?after=EPOCH, which answers as soon as the
// epoch moves, and hands every newer document to the ProxyServer. Several
// ConfigServer URLs may be given; a failing one is skipped for the next.
// While none answers the proxy keeps the topology it has.
//
// Every long-poll also reports the proxy (`proxy=ID&applied=EPOCH`, the
// epoch all its workers have applied): the ConfigServer's mover waits for
// every live proxy to apply an epoch that announces a migration step
// before it moves keys (docs/migration.md). After handing a new topology
// to the server the watcher waits (up to 1 s) for every worker to apply
// it, so the next poll carries the confirmation within milliseconds.
//
// With an announced address (set_announce_address), every long-poll also
// carries `&address=HOST:PORT`: where clients reach this proxy, which the
// ConfigServer lists for cluster-mode clients (ProxyListWatcher).
//
// With a MasterWitness (set_witness), every long-poll also carries
// `&unreachable=ADDR~MS,ADDR~MS` (present, maybe empty: the masters the
// proxy cannot reach, and for how long), and a change of that set abandons
// the poll in flight for one that reports it at once. A poll waits at most
// 1 s (the ConfigServer drops a proxy from its waits 7 s after its last
// report). The send time of every poll that succeeds (200 or 204) renews the
// server's ConfigServer lease (ProxyServer::RecordConfigServerAnswer).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/periodic_thread.h"
#include "core/status.h"
#include "core/topology.h"

namespace httplib {
class Client;
}

namespace redkube::proxy {

class MasterWitness;
class ProxyServer;

class TopologyWatcher {
 public:
  // proxy_id: this proxy's name in its reports (ProxyOptions::id).
  TopologyWatcher(std::vector<std::string> urls, std::string cluster, std::string token,
                  std::string proxy_id);
  ~TopologyWatcher();

  // One fetch of the current topology, trying each URL once.
  Result<std::shared_ptr<const Topology>> FetchOnce();
  // Watches on a thread of its own until Stop(), applying to `server`
  // every topology newer than `epoch`. At most once.
  void Start(ProxyServer* server, uint64_t epoch);
  // Ends a long-poll in flight at once, then the thread.
  void Stop();
  // The `address=` of every report ("host:port"; empty: none); before the
  // first fetch.
  void set_announce_address(std::string address) { announce_address_ = std::move(address); }
  // Where the `unreachable=` report comes from; before Start(). Not owned.
  void set_witness(const MasterWitness* witness) { witness_ = witness; }
  // Thread-safe: abandons the long-poll in flight (if any) and has the next
  // one go at once; a poll abandoned so is no failure.
  void Interrupt();
  // EventLoop::MonotonicMs() when the last poll that succeeded was sent
  // (FetchOnce's included); 0 if none did.
  int64_t last_answer_sent_ms() const { return last_answer_sent_ms_.load(); }

  uint64_t updates() const { return updates_.load(); }
  bool connected() const { return connected_.load(); }

 private:
  // One long-poll, and what it brought applied; on the watcher's thread.
  void PollOnce();
  bool Stopping();
  // Whether Interrupt() was called since the poll in flight began; clears it.
  bool TakeInterrupted();
  // A poll sent at `sent_ms` succeeded.
  void RecordAnswer(int64_t sent_ms);
  // 200 with a topology, 204 (nothing newer yet: nullptr), or an error.
  // `*sent_ms`: when it was sent (the lease counts from there). A 204
  // renews the lease at once; a 200 only once its topology is applied
  // (RecordAnswer), so writes never open under a topology older than the
  // one the ConfigServer just answered.
  Result<std::shared_ptr<const Topology>> Poll(const std::string& url, uint64_t after, int wait_ms,
                                               int64_t* sent_ms);

  std::vector<std::string> urls_;
  std::string cluster_;
  std::string token_;
  std::string proxy_id_;
  std::string announce_address_;
  size_t current_ = 0;
  std::atomic<uint64_t> updates_{0};
  std::atomic<bool> connected_{false};
  // Set by Start, then used by the watcher's thread only.
  ProxyServer* server_ = nullptr;
  uint64_t epoch_ = 0;
  bool warned_ = false;
  const MasterWitness* witness_ = nullptr;
  std::atomic<int64_t> last_answer_sent_ms_{0};
  // The PeriodicThread cannot interrupt a run, and a long-poll lasts up to
  // 10 s: Stop() must abort the request in flight itself, so the watcher
  // keeps its own stop flag and the request under a mutex of its own.
  std::mutex mu_;
  bool stopping_ = false;              // under mu_: no new long-poll starts
  bool interrupted_ = false;           // under mu_: Interrupt() since the poll in flight began
  int64_t last_interrupt_ms_ = 0;      // under mu_: when a poll was last abandoned
  httplib::Client* active_ = nullptr;  // the long-poll in flight, under mu_
  // Last, so that it stops before the members a poll uses go.
  PeriodicThread poller_;
};

}  // namespace redkube::proxy
