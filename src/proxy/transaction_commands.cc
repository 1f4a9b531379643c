#include "proxy/transaction_commands.h"

#include <string>

#include "proxy/client_backends.h"
#include "proxy/migrating_key_step.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"
#include "proxy/resp_forms.h"

namespace redkube::proxy {
namespace {

constexpr std::string_view kMultiRequest = "*1\r\n$5\r\nMULTI\r\n";
constexpr std::string_view kExecRequest = "*1\r\n$4\r\nEXEC\r\n";
constexpr std::string_view kUnwatchRequest = "*1\r\n$7\r\nUNWATCH\r\n";

}  // namespace

int TransactionCommands::SlotOfKeys(const CommandSpec& spec, std::span<const std::string_view> argv) {
  if (ExtractKeys(spec, argv, &keys_) == KeyExtraction::kMalformed) return -1;
  return CommonSlot(argv, keys_);
}

void TransactionCommands::Run(RequestContext& ctx, const CommandRoute& route,
                              std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = ctx.client.transaction;
  switch (route.transaction) {
    case TransactionCommand::kMulti:
      if (txn.in_multi) return ctx.replies.Add("-ERR MULTI calls can not be nested\r\n");
      txn.in_multi = true;
      return ctx.replies.Add("+OK\r\n");
    case TransactionCommand::kExec:
      if (!txn.in_multi) return ctx.replies.Add("-ERR EXEC without MULTI\r\n");
      return Exec(ctx);
    case TransactionCommand::kDiscard:
      if (!txn.in_multi) return ctx.replies.Add("-ERR DISCARD without MULTI\r\n");
      End(ctx);
      return ctx.replies.Add("+OK\r\n");
    case TransactionCommand::kWatch:
      if (txn.in_multi) return ctx.replies.Add("-ERR WATCH inside MULTI is not allowed\r\n");
      return Watch(ctx, route, argv, raw);
    case TransactionCommand::kUnwatch:
      if (txn.in_multi) return Queue(ctx, route, argv, raw);
      return Unwatch(ctx);
    case TransactionCommand::kNone:
      break;
  }
}

void TransactionCommands::Unwatch(RequestContext& ctx) {
  ClientTransaction& txn = ctx.client.transaction;
  BackendConnection* own = txn.watch_master.empty() ? nullptr : ctx.own.Find(txn.watch_master);
  txn.Clear();
  if (own == nullptr) return ctx.replies.Add("+OK\r\n");
  own->StartRequest(ctx.replies.Open(1), 0)->Append(kUnwatchRequest);
}

void TransactionCommands::Queue(RequestContext& ctx, const CommandRoute& route,
                                std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = ctx.client.transaction;
  // What runs on one shard can be queued there; what the proxy answers or
  // spreads over shards cannot be part of a one-shard transaction.
  if (!route.Has(kRouteQueuedInMulti)) {
    txn.aborted = true;
    std::string reason =
        route.route == Route::kRefuse
            ? std::string(route.refusal)
            : "it is answered by the proxy or by every shard, and a transaction runs on one shard";
    return ctx.replies.Add(RefusalError(*route.spec, "inside MULTI: " + reason));
  }
  int slot = SlotOfKeys(*route.spec, argv);
  if (slot == -2 || (slot >= 0 && txn.slot >= 0 && slot != txn.slot)) {
    txn.aborted = true;
    return ctx.replies.Add(kCrossSlotError);
  }
  if (slot >= 0) txn.slot = slot;
  AppendRequest(&txn.queued, argv, raw);
  ++txn.count;
  ctx.replies.Add("+QUEUED\r\n");
}

void TransactionCommands::Watch(RequestContext& ctx, const CommandRoute& route,
                                std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = ctx.client.transaction;
  int slot = SlotOfKeys(*route.spec, argv);
  if (slot == -2 || (txn.slot >= 0 && slot != txn.slot)) return ctx.replies.Add(kCrossSlotError);
  const SlotRouter& router = ctx.router();
  if (router.Migrating(static_cast<uint16_t>(slot))) {
    return ctx.replies.Add("-TRYAGAIN the watched keys' slot is moving to another shard; WATCH again\r\n");
  }
  int shard = router.OwnerOf(static_cast<uint16_t>(slot));
  std::string master = router.shard(shard).master.ToString();
  if (!txn.watch_master.empty() && txn.watch_master != master) {
    // The slot moved to another server since the first WATCH: that one's
    // watch is gone, so the transaction could not be checked. Say so.
    End(ctx);
    return ctx.replies.Add("-TRYAGAIN the watched keys moved to another server; WATCH again\r\n");
  }
  BackendConnection* own = ctx.own.ForShard(shard);
  if (own->failing()) {
    // Lost and not back yet: the WATCH would fail. Said before the
    // transaction takes note of it, so that a retry, once reconnected, is
    // not taken for a watch that was lost.
    return ctx.replies.Add("-TRYAGAIN backend " + master + " unavailable; WATCH again\r\n");
  }
  txn.slot = slot;
  txn.watch_master = master;
  AppendRequest(own->StartRequest(ctx.replies.Open(1), 0), argv, raw);
  // The server connection that holds the watch: if it is lost (and
  // reconnected) before EXEC, the watch went with it.
  if (txn.watch_session == 0) txn.watch_session = own->session();
}

void TransactionCommands::Exec(RequestContext& ctx) {
  ClientTransaction& txn = ctx.client.transaction;
  if (txn.aborted) {
    End(ctx);
    return ctx.replies.Add("-EXECABORT Transaction discarded because of previous errors.\r\n");
  }
  const SlotRouter& router = ctx.router();
  if (txn.slot >= 0 && router.Migrating(static_cast<uint16_t>(txn.slot))) return ExecMoving(ctx);
  int shard = txn.slot >= 0 ? router.OwnerOf(static_cast<uint16_t>(txn.slot)) : 0;
  if (!txn.watch_master.empty()) {
    // The watch cannot hold if the watched keys' shard changed master after
    // WATCH (failover, migration), or if the connection that got it failed
    // since (the server restarted, the connection was killed: EXEC on a new
    // one would run unchecked). EXEC then fails as on a conflict.
    const BackendConnection* held = ctx.own.Find(txn.watch_master);
    if (router.shard(shard).master.ToString() != txn.watch_master || held == nullptr ||
        held->session() != txn.watch_session) {
      End(ctx);
      return ctx.replies.Add(NullArrayReply(ctx.client.resp));
    }
  }
  BackendConnection* own = ctx.own.ForShard(shard);
  PendingReply* dropped = ctx.worker.pending_pool->Dropped(txn.count + 1);
  own->StartRequest(dropped, 0)->Append(kMultiRequest);
  for (uint32_t i = 0; i < txn.count; ++i) {
    Buffer* out = own->StartRequest(dropped, 0);
    if (i + 1 == txn.count) out->Append(txn.queued);
  }
  own->StartRequest(ctx.replies.Open(1), 0)->Append(kExecRequest);
  txn.Clear();  // EXEC also ends the server's WATCH
}

// EXEC of a transaction whose keys are all in one migrating slot: its keys
// are handed over to the importer first, all in one MIGRATE, then it runs
// there (MigratingKeyStep::StartTransaction). The keys are read back from
// the queued commands here, so queuing costs nothing extra for the
// transactions of slots that are not moving.
void TransactionCommands::ExecMoving(RequestContext& ctx) {
  ClientTransaction& txn = ctx.client.transaction;
  const uint16_t slot = static_cast<uint16_t>(txn.slot);
  if (!txn.watch_master.empty()) {
    // WATCH ran before the move began (a WATCH on a moving slot answers
    // -TRYAGAIN), on the source: it cannot check writes made on the
    // importer, where the transaction would run. Fails as on a conflict.
    End(ctx);
    return ctx.replies.Add(NullArrayReply(ctx.client.resp));
  }
  key_args_.clear();
  std::string_view rest = txn.queued;
  while (!rest.empty()) {
    size_t consumed = 0;
    if (parser_.Parse(rest.data(), rest.size(), &consumed) != RequestParser::Result::kComplete) break;
    std::span<const std::string_view> argv = parser_.args();
    if (const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
        spec != nullptr && ExtractKeys(*spec, argv, &keys_) != KeyExtraction::kMalformed) {
      for (uint32_t k : keys_) key_args_.push_back(argv[k]);  // views into txn.queued
    }
    rest.remove_prefix(consumed);
  }
  key_index_.resize(key_args_.size());
  for (size_t i = 0; i < key_index_.size(); ++i) key_index_[i] = static_cast<uint32_t>(i);
  // A held key: the transaction stays queued and EXEC is dispatched again
  // later (or answers -TRYAGAIN once the hold times out).
  if (WaitIfHeld(ctx, slot, key_args_, key_index_)) {
    if (!ctx.client.held) End(ctx);
    return;
  }
  moving_->StartTransaction(ctx, slot, key_args_, key_index_, txn.queued, txn.count);
  txn.Clear();
}

void TransactionCommands::End(RequestContext& ctx) {
  ClientTransaction& txn = ctx.client.transaction;
  if (!txn.watch_master.empty()) {
    if (BackendConnection* own = ctx.own.Find(txn.watch_master)) {
      own->StartRequest(ctx.worker.pending_pool->Dropped(1), 0)->Append(kUnwatchRequest);
    }
  }
  txn.Clear();
}

}  // namespace redkube::proxy
