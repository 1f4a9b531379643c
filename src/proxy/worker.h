// One event-loop thread of the proxy. It accepts its share of client
// connections (SO_REUSEPORT spreads them), owns them and its own pipelined
// connections to every backend, so no request ever takes a lock or crosses
// threads. The topology is read from ProxyServer as an immutable snapshot
// when its generation changes, checked once per loop iteration.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/topology.h"
#include "proxy/backend_connection.h"
#include "proxy/command_dispatcher.h"
#include "proxy/command_stats.h"
#include "proxy/event_loop.h"
#include "proxy/pending_reply.h"
#include "proxy/proxy_options.h"
#include "proxy/proxy_stats.h"
#include "proxy/slow_log.h"

namespace redkube::proxy {

class ClientSession;
class ProxyServer;

class Worker : public ReplySink {
 public:
  Worker(int index, ProxyServer* server, int listen_fd);
  ~Worker() override;

  void Start();
  void Join();
  // From another thread: stop accepting, finish in-flight requests, exit.
  void RequestShutdown();
  // From another thread: a new topology is available.
  void NotifyTopology() { loop_.Wakeup(); }

  // For client sessions and the dispatcher (worker thread only).
  EventLoop* loop() { return &loop_; }
  PendingReplyPool* pending_pool() { return &pending_pool_; }
  const ProxyOptions& options() const;
  ProxyStats* stats();
  ProxyServer* server() { return server_; }
  const Topology& topology() const { return *topology_; }
  // Moves whenever the worker takes a new topology.
  uint64_t topology_generation() const { return topology_generation_; }
  BackendConnection* BackendForShard(int shard_index) { return shard_backends_[shard_index]; }
  // For a read-only request: a replica in sync (in turn) under --read-from
  // replica|prefer-replica, else the master; nullptr when only a replica may
  // answer and none can.
  BackendConnection* ReadBackendForShard(int shard_index);
  CommandDispatcher* dispatcher() { return &dispatcher_; }
  CommandStats& command_stats() { return command_stats_; }
  const CommandStats& command_stats() const { return command_stats_; }
  // Counts the reply of a request (its latency, and whether it failed).
  void RecordReply(const PendingReply& pending, std::string_view reply) {
    CommandCounters& c = command_stats_[static_cast<uint16_t>(pending.command - 1)];
    int64_t duration_us = loop_.now_us() - pending.start_us;
    c.latency.RecordSingleWriter(duration_us);
    if (!reply.empty() && reply[0] == '-') BumpSingleWriter(c.failed, 1);
    if (slow_log_->IsSlow(duration_us) && !pending.blocks) LogSlowRequest(pending, duration_us);
  }
  bool slow_log_enabled() const { return slow_log_->IsSlow(INT64_MAX); }
  // INFO's proxy sections (server, clients, stats).
  std::string InfoSections() const;
  // A buffer for socket reads of clients that have no partial request.
  Buffer* read_scratch() { return &read_scratch_; }

  void MarkClientDirty(ClientSession* client) { dirty_clients_.push_back(client); }
  void MarkClientResumable(ClientSession* client) { resumable_clients_.push_back(client); }
  void OnClientClosed(ClientSession* client);
  // Keeps a backend connection alive until the end of this loop iteration
  // (it may still be on the dirty list), then frees it.
  void Retire(std::unique_ptr<BackendConnection> backend) {
    retired_backends_.push_back(std::move(backend));
  }
  const BackendOptions* blocking_backend_options() const { return &blocking_options_; }
  // Clients with connections of their own, whose timeouts Tick() checks.
  void TrackBlockingClient(ClientSession* client) { clients_with_blocking_.insert(client); }

  // ReplySink
  void OnBackendReply(PendingReply* pending, uint32_t part, std::string_view reply) override;
  void MarkBackendDirty(BackendConnection* backend) override { dirty_backends_.push_back(backend); }
  void OnBackendPush(BackendConnection* backend, std::string_view message) override;
  void OnBackendConnecting(BackendConnection* backend) override;
  void OnSubscriptionsLost(BackendConnection* backend) override;

 private:
  class Listener;

  void Run();
  void Accept();
  void BeforeSleep();
  void Tick();
  void ApplyTopologyIfChanged();
  BackendConnection* BackendFor(const HostPort& address);
  void LogSlowRequest(const PendingReply& pending, int64_t duration_us);
  void DrainForShutdown();

  int index_;
  ProxyServer* server_;
  int listen_fd_;
  EventLoop loop_;
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  std::atomic<bool> shutdown_requested_{false};
  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;

  std::shared_ptr<const Topology> topology_;
  uint64_t topology_generation_ = 0;
  std::unordered_map<std::string, std::unique_ptr<BackendConnection>> backends_;
  std::vector<BackendConnection*> shard_backends_;
  uint64_t replicas_generation_ = 0;
  std::vector<std::vector<BackendConnection*>> replica_backends_;  // readable, per shard
  uint32_t next_replica_ = 0;

  PendingReplyPool pending_pool_;
  SlowLog* slow_log_;
  CommandStats command_stats_;
  CommandDispatcher dispatcher_;
  Buffer read_scratch_;
  std::unordered_map<ClientSession*, std::unique_ptr<ClientSession>> clients_;
  std::vector<ClientSession*> dirty_clients_;
  std::vector<ClientSession*> resumable_clients_;
  std::vector<ClientSession*> closed_clients_;
  std::vector<BackendConnection*> dirty_backends_;
  std::vector<std::unique_ptr<BackendConnection>> retired_backends_;
  BackendOptions blocking_options_;
  std::unordered_set<ClientSession*> clients_with_blocking_;
  int64_t next_idle_check_ms_ = 0;
};

}  // namespace redkube::proxy
