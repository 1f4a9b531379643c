// A worker's shared connections to the servers of the topology: one
// pipelined BackendConnection per master, which every client of the worker
// shares, and the replicas reads may go to (--read-from), taken in turn.
// Apply() maps the shards of a new topology to connections, reusing those
// to servers that stay; a connection to a server that left is closed once
// it owes nothing. Worker thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/backend_connection.h"
#include "proxy/proxy_options.h"
#include "proxy/replica_monitor.h"
#include "proxy/slot_router.h"

namespace redkube::proxy {

class ProxyServer;

// What a request to a fenced shard's master is answered (after "-TRYAGAIN
// backend ADDR unavailable: "): "shard ID is failing over ...".
std::string FenceReason(const Shard& shard);

class BackendPool {
 public:
  BackendPool(EventLoop* loop, ProxyServer* server, ReplySink* sink);

  // The connections of `router`'s shards; replicas only where `readable`
  // vouches for them and options allow replica reads. The master of a
  // fenced shard is fenced (BackendConnection::Fence: what it owed fails
  // now, and nothing more is sent); every other connection is unfenced.
  void Apply(const SlotRouter& router, const ReadableReplicas& readable);

  // The shared connection to shard `shard`'s master.
  BackendConnection* Master(int shard) { return masters_[shard]; }
  // For a read-only request: a replica in sync (in turn) under --read-from
  // replica|prefer-replica, else the master; nullptr when only a replica may
  // answer and none can.
  BackendConnection* ForRead(int shard);

  // Periodic: timeouts and reconnects; connections no shard uses any more
  // are closed once idle.
  void Tick();
  void Clear() {
    masters_.clear();
    replicas_.clear();
    by_address_.clear();
  }

 private:
  BackendConnection* For(const HostPort& address);

  EventLoop* loop_;
  ProxyServer* server_;
  ReplySink* sink_;
  std::unordered_map<std::string, std::unique_ptr<BackendConnection>> by_address_;
  std::vector<BackendConnection*> masters_;
  std::vector<std::vector<BackendConnection*>> replicas_;  // readable, per shard
  uint32_t next_replica_ = 0;
};

}  // namespace redkube::proxy
