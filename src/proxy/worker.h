// One event-loop thread of the proxy. It accepts its share of client
// connections (SO_REUSEPORT spreads them), owns them, its shared
// connections to every server (BackendPool) and its request dispatcher, so
// no request ever takes a lock or crosses threads. The topology is read
// from ProxyServer as an immutable snapshot when its generation changes,
// checked once per loop iteration, and turned into a SlotRouter there.
//
// Backend replies arrive here (ReplySink) and go to the reply slot's queue;
// a slot with a second step runs it first.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>

#include "proxy/backend_pool.h"
#include "proxy/command_dispatcher.h"
#include "proxy/command_stats.h"
#include "proxy/event_loop.h"
#include "proxy/pending_reply.h"
#include "proxy/request_context.h"
#include "proxy/request_recorder.h"

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
  // From any thread: runs `task` on this worker's thread with its context
  // (CLIENT LIST over every worker, a reply computed elsewhere).
  void Post(std::function<void(WorkerContext&)> task) {
    loop_.Post([this, task = std::move(task)] { task(context_); });
  }
  int index() const { return index_; }

  // Per-command counters, read (relaxed) by INFO and /metrics.
  const CommandStats& command_stats() const { return recorder_.stats(); }

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
  // Unparks the clients parked on a held key: all of them after a new
  // topology, else those whose hold deadline passed.
  void WakeParked(bool topology_changed);
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

  uint64_t replicas_generation_ = 0;
  PendingReplyPool pending_pool_;
  RequestRecorder recorder_;
  BackendOptions own_backend_options_;
  BackendPool backends_;
  WorkerContext context_;
  CommandDispatcher dispatcher_;
  std::vector<BackendConnection*> dirty_backends_;
  std::vector<ClientBackends*> ticking_;  // scratch
  std::unordered_map<ClientSession*, std::unique_ptr<ClientSession>> clients_;
  int64_t next_idle_check_ms_ = 0;
};

}  // namespace redkube::proxy
