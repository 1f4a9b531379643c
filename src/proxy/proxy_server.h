// The proxy process: its worker threads, the current topology snapshot they
// route by, and process-wide stats. Topology changes (SIGHUP, later the
// ConfigServer) are published by swapping an immutable snapshot and bumping
// a generation counter that each worker checks once per loop iteration.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/topology.h"
#include "proxy/address_book.h"
#include "proxy/applied_epochs.h"
#include "proxy/backend_stats.h"
#include "proxy/client_pause.h"
#include "proxy/proxy_list.h"
#include "proxy/proxy_options.h"
#include "proxy/proxy_stats.h"
#include "proxy/replica_monitor.h"
#include "proxy/script_cache.h"
#include "proxy/slow_log.h"

namespace redkube::proxy {

class Worker;

class ProxyServer {
 public:
  // Resolves the topology's host names (blocking, see AddressBook) and has
  // the workers' connections look them up there (options().backend.addresses).
  ProxyServer(ProxyOptions options, std::shared_ptr<const Topology> topology);
  ~ProxyServer();

  // Binds the port and starts the workers. Fails if the port is taken.
  Status Start();
  // Applies the topology if its epoch is newer than the current one. Returns
  // false (and logs why) when it is not. Resolves its new host names first,
  // so it blocks on DNS: call it from the thread that watches the topology,
  // never a worker. A name that does not resolve does not hold the topology
  // back: connections to it fail (-TRYAGAIN naming it) until it does.
  bool UpdateTopology(std::shared_ptr<const Topology> topology);
  // Stops accepting, lets in-flight requests finish (bounded by the grace
  // period), and joins the workers.
  void Shutdown();

  const ProxyOptions& options() const { return options_; }
  ProxyStats* stats() { return &stats_; }
  std::shared_ptr<const Topology> topology() const;
  // The topology epoch every worker has applied (the least of theirs), what
  // the proxy reports to the ConfigServer; and waiting for it to reach
  // `epoch` (bounded), so that a report follows a new epoch at once.
  uint64_t AppliedEpoch() const { return applied_->Min(); }
  bool WaitApplied(uint64_t epoch, std::chrono::milliseconds timeout) {
    return applied_->WaitFor(epoch, timeout);
  }
  // Every worker thread, to post tasks to (Worker::Post). Fixed after Start().
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  // Workers record there the epoch they route by (on their own thread).
  AppliedEpochs* applied_epochs() { return applied_.get(); }
  uint64_t topology_generation() const { return generation_.load(std::memory_order_acquire); }
  int64_t start_time_ms() const { return start_time_ms_; }

  // The stats of the server at `address` ("host:port"), created on first use
  // and kept for the process's lifetime. Thread-safe.
  BackendStats* StatsForBackend(const std::string& address);
  // Prometheus text: connections, commands (per command: calls, failures,
  // latency histogram), bytes, backends (latency, connections, failures),
  // topology. Thread-safe.
  std::string RenderMetrics() const;
  // INFO's "# Commandstats" section, summed over the workers.
  std::string CommandstatsInfo() const;
  // INFO's "# Latencystats" section: p50/p99/p99.9 per command, estimated
  // from the latency histograms (their buckets bound the precision).
  std::string LatencystatsInfo() const;
  // Ready to serve: a topology is loaded and every shard's master has a
  // connection up.
  bool Ready() const;
  SlowLog* slow_log() { return &slow_log_; }
  // CLIENT PAUSE, process-wide (client_pause.h).
  ClientPause* client_pause() { return &client_pause_; }
  ScriptCache* scripts() { return &scripts_; }
  // The replicas reads may go to (ReplicaMonitor), published like topologies.
  void SetReadableReplicas(std::shared_ptr<const ReadableReplicas> replicas);
  std::shared_ptr<const ReadableReplicas> readable_replicas() const;
  uint64_t replicas_generation() const { return replicas_generation_.load(std::memory_order_acquire); }
  // The cluster's live proxies (ProxyListWatcher publishes them; empty
  // without a ConfigServer), read by the CLUSTER commands. Thread-safe.
  void SetProxyList(std::shared_ptr<const ProxyList> list);
  std::shared_ptr<const ProxyList> proxy_list() const;

  // The ConfigServer lease (docs/proxy.md, "Fences and the ConfigServer
  // lease"). Off until EnableConfigServerLease (a proxy on a --topology file
  // has none): writes are allowed. Once on, writes are allowed while the
  // last poll that succeeded was sent at most options().configserver_lease_ms
  // ago (0: always). `answered_sent_ms` (EventLoop::MonotonicMs) is the send
  // time of the poll that fetched the first topology.
  void EnableConfigServerLease(int64_t answered_sent_ms);
  // From the watcher: a poll sent at `sent_ms` succeeded (200 or 204).
  // Reopens the gate at once.
  void RecordConfigServerAnswer(int64_t sent_ms);
  // Periodic (MasterWitness, every 100 ms): closes the gate once the lease
  // ran out, even while a poll hangs. Logs each change of the gate.
  void CheckConfigServerLease();
  // The writes gate, read on the request path: one relaxed load.
  bool writes_allowed() const { return writes_allowed_.load(std::memory_order_relaxed); }
  // Milliseconds since the send time of the last poll that succeeded; -1
  // without a lease (not following a ConfigServer).
  int64_t MsSinceConfigServerAnswer() const;
  // Masters the witness cannot reach now (MasterWitness publishes it).
  void SetUnreachableMasters(int count) { unreachable_masters_.store(count, std::memory_order_relaxed); }
  int unreachable_masters() const { return unreachable_masters_.load(std::memory_order_relaxed); }
  // Shards of the current topology published fenced.
  int FencedShards() const;

 private:
  // Whether `topology` may replace the current one (same cluster, newer
  // epoch); logs why not. Under topology_mu_.
  bool Accepts(const Topology& topology) const;

  ProxyOptions options_;
  ProxyStats stats_;
  SlowLog slow_log_;
  ClientPause client_pause_;
  ScriptCache scripts_;
  // Before workers_: their connections look names up in it until they stop.
  AddressBook addresses_;
  mutable std::mutex topology_mu_;
  std::shared_ptr<const Topology> topology_;
  std::atomic<uint64_t> generation_{1};
  std::shared_ptr<const ReadableReplicas> readable_replicas_ = std::make_shared<ReadableReplicas>();
  std::atomic<uint64_t> replicas_generation_{1};
  mutable std::mutex proxy_list_mu_;
  std::shared_ptr<const ProxyList> proxy_list_ = std::make_shared<const ProxyList>();
  std::atomic<bool> writes_allowed_{true};
  std::atomic<bool> lease_enabled_{false};
  std::atomic<int64_t> answered_sent_ms_{0};
  std::mutex lease_mu_;  // CheckConfigServerLease's decisions and logs, one at a time
  std::atomic<int> unreachable_masters_{0};
  std::unique_ptr<AppliedEpochs> applied_;  // one entry per worker thread
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex backend_stats_mu_;
  std::map<std::string, std::unique_ptr<BackendStats>> backend_stats_;
  int64_t start_time_ms_;
};

}  // namespace redkube::proxy
