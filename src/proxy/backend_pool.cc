#include "proxy/backend_pool.h"

#include <algorithm>
#include <set>

#include "proxy/proxy_server.h"

namespace redkube::proxy {

BackendPool::BackendPool(EventLoop* loop, ProxyServer* server, ReplySink* sink)
    : loop_(loop), server_(server), sink_(sink) {}

BackendConnection* BackendPool::For(const HostPort& address) {
  std::string key = address.ToString();
  auto it = by_address_.find(key);
  if (it == by_address_.end()) {
    auto backend = std::make_unique<BackendConnection>(loop_, address, &server_->options().backend, sink_);
    backend->set_stats(server_->StatsForBackend(key));
    it = by_address_.emplace(key, std::move(backend)).first;
  }
  return it->second.get();
}

BackendConnection* BackendPool::Resp3Twin(BackendConnection* resp2) {
  auto it = resp3_twins_.find(resp2);
  if (it == resp3_twins_.end()) {
    auto twin = std::make_unique<BackendConnection>(loop_, resp2->address(), resp2->options(), sink_);
    twin->SetProtocol(3);
    twin->set_stats(server_->StatsForBackend(resp2->name()));
    if (resp2->fenced()) twin->Fence(resp2->fence_reason());
    it = resp3_twins_.emplace(resp2, std::move(twin)).first;
  }
  return it->second.get();
}

void BackendPool::Apply(const SlotRouter& router, const ReadableReplicas& readable) {
  const bool replica_reads = server_->options().read_from != ReadFrom::kMaster;
  masters_.clear();
  master_twins_.assign(router.shard_count(), nullptr);
  replicas_.assign(router.shard_count(), {});
  std::map<const BackendConnection*, const Shard*> fenced;
  for (int i = 0; i < router.shard_count(); ++i) {
    const Shard& shard = router.shard(i);
    masters_.push_back(For(shard.master));
    if (shard.fenced) fenced.emplace(masters_.back(), &shard);
    if (!replica_reads) continue;
    for (const auto& replica : shard.replicas) {
      if (readable.Contains(shard.master, replica)) replicas_[i].push_back(For(replica));
    }
  }
  // Every connection, not only masters': a server fenced as master may stay
  // on as a replica of the next topology, to be read from again.
  for (auto& [address, backend] : by_address_) {
    auto it = fenced.find(backend.get());
    if (it != fenced.end()) {
      backend->Fence(FenceReason(*it->second));
    } else {
      backend->Unfence();
    }
  }
  for (auto& [resp2, twin] : resp3_twins_) {
    if (resp2->fenced()) {
      twin->Fence(resp2->fence_reason());
    } else {
      twin->Unfence();
    }
  }
}

std::string FenceReason(const Shard& shard) {
  return "shard " + shard.id + " is failing over (fenced); retry shortly";
}

BackendConnection* BackendPool::ForReadResp2(int shard) {
  const auto& replicas = replicas_[shard];
  for (size_t tries = 0; tries < replicas.size(); ++tries) {
    BackendConnection* b = replicas[next_replica_++ % replicas.size()];
    if (!b->failing()) return b;  // one this worker just saw fail waits for the monitor
  }
  return server_->options().read_from == ReadFrom::kReplica ? nullptr : masters_[shard];
}

void BackendPool::Tick() {
  for (auto& [name, backend] : by_address_) backend->Tick();
  for (auto& [resp2, twin] : resp3_twins_) twin->Tick();
  // Connections to servers that left the topology go once they owe nothing.
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    const BackendConnection* b = it->second.get();
    bool used = std::find(masters_.begin(), masters_.end(), b) != masters_.end();
    for (const auto& replicas : replicas_) {
      used |= std::find(replicas.begin(), replicas.end(), b) != replicas.end();
    }
    auto twin = resp3_twins_.find(b);
    bool twin_idle = twin == resp3_twins_.end() || twin->second->idle();
    if (!used && b->idle() && twin_idle) {
      if (twin != resp3_twins_.end()) resp3_twins_.erase(twin);
      it = by_address_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace redkube::proxy
