// A worker's shared connections to the servers of the topology: one
// pipelined BackendConnection per master, which every client of the worker
// shares, and the replicas reads may go to (--read-from), taken in turn.
// Apply() maps the shards of a new topology to connections, reusing those
// to servers that stay; a connection to a server that left is closed once
// it owes nothing. Worker thread only.
//
// RESP3: server replies pass to clients as bytes, so a client that said
// HELLO 3 must be answered by a server connection that speaks RESP3. Beside
// each shared (RESP2) connection the pool keeps a RESP3 twin to the same
// server, opened the first time a RESP3 client needs it (HELLO 3 goes first
// on every connect, its reply swallowed like AUTH's). A twin follows its
// RESP2 connection in everything: it is chosen by the same rule (Master,
// ForRead pick the RESP2 connection, then its twin), fenced and unfenced
// with it by Apply() (and fenced at birth if its partner is), and closed
// when its partner is. RESP2 clients pay one branch per request for this.
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

  // The shared connection to shard `shard`'s master, speaking RESP `resp`.
  BackendConnection* Master(int shard, int resp = 2) {
    if (resp == 2) return masters_[shard];
    BackendConnection*& twin = master_twins_[shard];
    if (twin == nullptr) twin = Resp3Twin(masters_[shard]);
    return twin;
  }
  // For a read-only request: a replica in sync (in turn) under --read-from
  // replica|prefer-replica, else the master; nullptr when only a replica may
  // answer and none can.
  BackendConnection* ForRead(int shard, int resp = 2) {
    BackendConnection* b = ForReadResp2(shard);
    return resp == 2 || b == nullptr ? b : Resp3Twin(b);
  }

  // The shared (RESP2) connection to `address`, made if the pool has none
  // (closed by Tick once idle if no shard uses it).
  BackendConnection* Shared(const HostPort& address) { return For(address); }

  // Periodic: timeouts and reconnects; connections no shard uses any more
  // are closed once idle.
  void Tick();
  void Clear() {
    masters_.clear();
    master_twins_.clear();
    replicas_.clear();
    resp3_twins_.clear();
    by_address_.clear();
  }

 private:
  BackendConnection* For(const HostPort& address);
  BackendConnection* ForReadResp2(int shard);
  // The RESP3 connection to the server of `resp2`, made if needed.
  BackendConnection* Resp3Twin(BackendConnection* resp2);

  EventLoop* loop_;
  ProxyServer* server_;
  ReplySink* sink_;
  std::unordered_map<std::string, std::unique_ptr<BackendConnection>> by_address_;
  std::unordered_map<const BackendConnection*, std::unique_ptr<BackendConnection>> resp3_twins_;
  std::vector<BackendConnection*> masters_;
  // masters_[i]'s RESP3 twin once asked for (else nullptr), so that a RESP3
  // client's request to a master costs no map lookup. Valid until the next
  // Apply: Tick closes only connections that no shard uses.
  std::vector<BackendConnection*> master_twins_;
  std::vector<std::vector<BackendConnection*>> replicas_;  // readable, per shard
  uint32_t next_replica_ = 0;
};

}  // namespace redkube::proxy
