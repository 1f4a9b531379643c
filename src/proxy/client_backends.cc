#include "proxy/client_backends.h"

#include <algorithm>

#include "proxy/backend_pool.h"
#include "proxy/proxy_stats.h"
#include "proxy/reply_queue.h"
#include "proxy/subscription_router.h"

namespace redkube::proxy {
namespace {

// Whether `backend` leads to what is no longer `shard`'s master (or the
// shard left the topology: index -1).
bool OffMaster(const BackendConnection* backend, const SlotRouter& router, int shard) {
  return shard < 0 || backend->address() != router.shard(shard).master;
}

}  // namespace

bool ClientBackends::HoldsSubscriptions(const BackendConnection* backend) const {
  // While the client is subscribed (RESP2) it sends nothing else, and a
  // connection that holds subscriptions carries no writes. One whose
  // subscriptions are all gone (UNSUBSCRIBE) may carry MULTI/EXEC, BLMOVE...
  // next: it is fenced like any other.
  return backend->push_owner() == this && (backend->subscriptions() > 0 || client_->subscriptions.active());
}

BackendConnection* ClientBackends::ForShard(int shard) {
  BackendConnection* backend = Own(shard);
  if (HoldsSubscriptions(backend)) return backend;
  const Shard& owner = worker_->router->shard(shard);
  if (owner.fenced) {
    backend->Fence(FenceReason(owner));
  } else {
    backend->Unfence();
  }
  return backend;
}

void ClientBackends::RetireFenced() {
  const SlotRouter& router = *worker_->router;
  std::vector<std::pair<BackendConnection*, std::string>> fenced;
  for (const auto& own : own_) {
    BackendConnection* b = own.backend.get();
    if (HoldsSubscriptions(b)) continue;
    const int shard = router.IndexOf(own.shard_id);
    if (shard < 0 || !router.shard(shard).fenced || OffMaster(b, router, shard)) continue;
    fenced.emplace_back(b, FenceReason(router.shard(shard)));
  }
  for (const auto& [b, why] : fenced) Retire(b, why);
}

BackendConnection* ClientBackends::Own(int shard) {
  const Shard& owner = worker_->router->shard(shard);
  for (auto& own : own_) {
    if (own.backend->address() == owner.master) return own.backend.get();
  }
  if (own_.empty()) worker_->with_own_backends.insert(this);
  own_.push_back({std::make_unique<BackendConnection>(worker_->loop, owner.master,
                                                      worker_->own_backend_options, worker_->sink),
                  owner.id});
  own_.back().backend->SetProtocol(client_->resp);
  return own_.back().backend.get();
}

BackendConnection* ClientBackends::ForSubscriptions(int shard) {
  if (placed_by_ == nullptr) placed_by_ = worker_->router;
  BackendConnection* backend = Own(shard);
  backend->Unfence();  // one ForShard fenced, now carrying subscriptions
  backend->set_push_owner(this);
  return backend;
}

BackendConnection* ClientBackends::Find(const std::string& master) {
  for (auto& own : own_) {
    if (own.backend->name() == master) return own.backend.get();
  }
  return nullptr;
}

ClientBackends::OwnConnection* ClientBackends::FindByShard(const std::string& shard_id) {
  for (auto& own : own_) {
    if (own.shard_id == shard_id && own.backend->push_owner() == this) return &own;
  }
  return nullptr;
}

bool ClientBackends::AnyInFlight() const {
  for (const auto& own : own_) {
    if (own.backend->in_flight() > 0) return true;
  }
  return false;
}

int ClientBackends::UnblockOnServers(bool with_error) {
  int concerned = 0;
  for (auto& own : own_) {
    BackendConnection* b = own.backend.get();
    const uint64_t target = b->OldestClientReply();
    if (target == 0 || b->subscriptions() > 0) continue;
    Unblocking u{b, b->session(), target, with_error, worker_->loop->now_ms() + kUnblockWaitMs};
    if (!TrySendUnblock(u)) unblocking_.push_back(u);
    ++concerned;
  }
  return concerned;
}

bool ClientBackends::TrySendUnblock(const Unblocking& u) {
  if (u.backend->session() != u.session || u.backend->replies_read() >= u.target_reply ||
      worker_->loop->now_ms() >= u.until_ms) {
    return true;  // reconnected, answered, or waited for long enough
  }
  const int64_t id = u.backend->server_client_id();
  // Not yet: CLIENT ID (and the connect's AUTH, HELLO) still owed.
  if (id < 0 || u.backend->replies_read() + 1 != u.target_reply) return false;
  Buffer* out = worker_->backends->Shared(u.backend->address())->StartRequest(nullptr, 0);  // errors logged
  AppendArrayHeader(out, 4);
  AppendBulk(out, "CLIENT");
  AppendBulk(out, "UNBLOCK");
  AppendBulk(out, std::to_string(id));
  AppendBulk(out, u.with_error ? "ERROR" : "TIMEOUT");
  return true;
}

void ClientBackends::ContinueUnblocking() {
  std::erase_if(unblocking_, [&](const Unblocking& u) { return TrySendUnblock(u); });
}

void ClientBackends::OnPush(std::string_view message) { replies_->Add(message); }

void ClientBackends::Tick() {
  // Ticking may fail a connection, which reports lost subscriptions: they
  // are restored after the loop, which may add and remove connections.
  for (auto& own : own_) own.backend->Tick();
  if (checked_generation_ != worker_->topology_generation) {
    checked_generation_ = worker_->topology_generation;
    LeaveFormerMasters();
    CatchUp();
  }
  if (!lost_.empty()) RestoreLostSubscriptions();
  if (!unblocking_.empty()) ContinueUnblocking();
}

void ClientBackends::CatchUp() {
  if (placed_by_ == nullptr || placed_by_ == worker_->router) return;
  std::shared_ptr<const SlotRouter> before = std::move(placed_by_);
  placed_by_ = worker_->router;
  FollowChannels(*before, *placed_by_);
}

void ClientBackends::OnSubscriptionsLost(BackendConnection* backend) {
  for (const auto& own : own_) {
    if (own.backend.get() == backend) {
      lost_.try_emplace(own.shard_id);
      return;
    }
  }
}

void ClientBackends::LeaveFormerMasters() {
  // What the client holds on a server that is no longer its shard's master
  // moves on. Subscriptions: a server demoted by a switchover still delivers
  // its shard's messages (PUBLISH replicates), but UNSUBSCRIBE would now go
  // to the new master and miss it, so they are made again there. Requests:
  // own connections have no reply timeout (BLPOP 0 waits for ever), so one
  // owed by a server that a failover left behind (frozen, cut off: nothing
  // closes the connection) would never be answered; it is ended, as
  // redis-server ends blocked commands on a master turned replica, and the
  // client retries on the new master.
  const SlotRouter& router = *worker_->router;
  std::vector<BackendConnection*> stale;
  for (const auto& own : own_) {
    BackendConnection* b = own.backend.get();
    if (b->subscriptions() == 0 && b->in_flight() == 0) continue;  // holds nothing
    if (!OffMaster(b, router, router.IndexOf(own.shard_id))) continue;
    if (b->push_owner() == this) {
      lost_.try_emplace(own.shard_id);
    } else {
      stale.push_back(b);
    }
  }
  for (BackendConnection* b : stale) Retire(b, "no longer its shard's master");
}

void ClientBackends::FollowChannels(const SlotRouter& before, const SlotRouter& now) {
  // Each subscription is compared by shard id: where it lived under the
  // routing it was placed by, and where it lives now. A shard that gains
  // some is handed to the restore (RestoreLostSubscriptions), which makes
  // everything of the client's that lives there and retries until the
  // server has them (a -LOADING master must not lose them silently). Where
  // a channel left, it is unsubscribed; that confirmation is dropped (a
  // subscription left on a shard nobody publishes that channel to is inert).
  const ClientSubscriptions& subs = client_->subscriptions;
  PendingReplyPool* pool = worker_->pending_pool;
  auto gain = [&](const std::string& shard_id) {
    auto [it, added] = lost_.try_emplace(shard_id);
    if (added) it->second.moved_here = true;
  };
  auto follow = [&](std::string_view unsubscribe, const std::string& name) {
    int was[2], is[2];
    int nwas = before.ChannelShards(name, was), nis = now.ChannelShards(name, is);
    auto contains = [](const int* shards, int n, const SlotRouter& r, const std::string& id) {
      for (int i = 0; i < n; ++i) {
        if (r.shard(shards[i]).id == id) return true;
      }
      return false;
    };
    for (int i = 0; i < nis; ++i) {
      if (!contains(was, nwas, before, now.shard(is[i]).id)) gain(now.shard(is[i]).id);
    }
    for (int i = 0; i < nwas; ++i) {
      const std::string& id = before.shard(was[i]).id;
      if (contains(is, nis, now, id)) continue;
      if (OwnConnection* old = FindByShard(id)) {
        SendSubscriptionRequest(old->backend.get(), pool->Dropped(1), unsubscribe, name);
      }
    }
  };
  for (const auto& c : subs.channels) follow("UNSUBSCRIBE", c);
  for (const auto& c : subs.shard_channels) follow("SUNSUBSCRIBE", c);
  if (subs.patterns.empty()) return;
  // Patterns live on every shard: a shard new to the topology gets them.
  for (int i = 0; i < now.shard_count(); ++i) {
    if (before.IndexOf(now.shard(i).id) < 0) gain(now.shard(i).id);
  }
}

void ClientBackends::RestoreLostSubscriptions() {
  static constexpr int kRetryMinMs = 100;
  static constexpr int kRetryMaxMs = 1000;
  if (client_->closing) {  // closing (QUIT, an error, shutdown): nothing to restore
    lost_.clear();
    return;
  }
  const SlotRouter& router = *worker_->router;
  const int64_t now = worker_->loop->now_ms();
  for (auto it = lost_.begin(); it != lost_.end();) {
    const std::string& shard_id = it->first;
    LostSubscriptions& lost = it->second;
    const int shard = router.IndexOf(shard_id);
    if (lost.restoring != nullptr) {
      BackendConnection* b = lost.restoring;
      if (OffMaster(b, router, shard) || b->failing()) {
        // Start over: the topology moved on while they were being made there
        // (a failover of the new master, or one that stalls), to go to the
        // master of the moment; or the connection failed, and reconnects by
        // itself, to be sent again then.
        lost.restoring = nullptr;
      } else if (b->connected() && b->in_flight() == 0) {
        if (b->subscriptions() > 0) {
          if (!lost.moved_here) {
            worker_->stats->subscriptions_restored.fetch_add(1, std::memory_order_relaxed);
          }
          it = lost_.erase(it);
          continue;
        }
        // Answered with errors (-BUSY, -LOADING...): try again later.
        lost.restoring = nullptr;
        lost.retry_delay_ms = std::min(std::max(lost.retry_delay_ms * 2, kRetryMinMs), kRetryMaxMs);
        lost.next_attempt_ms = now + lost.retry_delay_ms;
      }
    }
    if (lost.restoring != nullptr || now < lost.next_attempt_ms) {
      ++it;
      continue;
    }
    // This shard's subscribed connections to a server that is not its master
    // any more go: the subscriptions are made again, all on one connection
    // to the master, so each message comes once.
    std::vector<BackendConnection*> stale;
    for (const auto& own : own_) {
      BackendConnection* b = own.backend.get();
      if (own.shard_id == shard_id && b->push_owner() == this && OffMaster(b, router, shard))
        stale.push_back(b);
    }
    for (BackendConnection* b : stale) Retire(b);
    if (shard < 0) {
      // The shard left the topology: its channels were placed on their new
      // shards when the topology changed (FollowChannels).
      it = lost_.erase(it);
      continue;
    }
    BackendConnection* backend = ForSubscriptions(shard);
    if (backend->failing()) {  // down: it reconnects with its own backoff, then
      ++it;
      continue;
    }
    if (ResubscribeShard(router, client_->subscriptions, shard, backend, worker_->pending_pool) == 0) {
      it = lost_.erase(it);  // nothing of the client's lives there any more
      continue;
    }
    lost.restoring = backend;
    ++it;
  }
}

void ClientBackends::Retire(BackendConnection* backend, const std::string& why) {
  auto it = std::find_if(own_.begin(), own_.end(),
                         [&](const OwnConnection& own) { return own.backend.get() == backend; });
  if (it == own_.end()) return;
  for (auto& [id, lost] : lost_) {
    if (lost.restoring == backend) lost.restoring = nullptr;
  }
  backend->set_push_owner(nullptr);  // its failure is no news
  std::erase_if(unblocking_, [&](const Unblocking& u) { return u.backend == backend; });
  backend->Abandon(why);
  worker_->retired.push_back(std::move(it->backend));
  own_.erase(it);
}

void ClientBackends::DropAll() {
  // Closing them unblocks, unwatches and unsubscribes on the servers too.
  for (auto& own : own_) {
    own.backend->set_push_owner(nullptr);
    own.backend->Abandon();
    worker_->retired.push_back(std::move(own.backend));
  }
  own_.clear();
  lost_.clear();
  unblocking_.clear();
  placed_by_ = nullptr;
  client_->subscriptions = ClientSubscriptions();
  worker_->with_own_backends.erase(this);
}

}  // namespace redkube::proxy
