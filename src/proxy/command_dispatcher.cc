#include "proxy/command_dispatcher.h"

#include <charconv>
#include <string>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "core/strings.h"
#include "proxy/backend_pool.h"
#include "proxy/client_backends.h"
#include "proxy/client_commands.h"
#include "proxy/info_command.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"
#include "proxy/scan_cursor.h"
#include "proxy/subscription_router.h"

namespace redkube::proxy {
namespace {

std::string NoReplicaError(const SlotRouter& router, int shard) {
  return "-TRYAGAIN no replica of " + router.shard(shard).id +
         " is in sync to read from (--read-from replica)\r\n";
}

}  // namespace

void Forward(RequestContext& ctx, int shard, std::span<const std::string_view> argv, std::string_view raw) {
  AppendRequest(ctx.worker.backends->Master(shard, ctx.client.resp)->StartRequest(ctx.replies.Open(1), 0),
                argv, raw);
}

DispatchOrder CommandDispatcher::Handle(RequestContext& ctx, std::span<const std::string_view> argv,
                                        std::string_view raw) {
  // A two-step request of this client's has not sent its second step yet:
  // whatever comes next could overtake it (MigratingKeyStep), so it waits.
  if (ctx.replies.steps_in_flight() > 0) return DispatchOrder::kRetryAfterReplies;
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  const CommandRoute* route = spec != nullptr ? &RoutingTable::Instance().For(*spec) : nullptr;
  ClientState& client = ctx.client;
  // A request for the client's own connection could overtake the client's
  // earlier requests on the shared ones, and be overtaken by its later ones:
  // it waits for the earlier replies, and the later requests for its reply,
  // so that the servers see the client's requests in its order.
  const bool own_connection =
      route != nullptr && client.authenticated && route->UsesOwnConnection(argv, client.transaction.in_multi);
  if (own_connection && !ctx.replies.empty()) return DispatchOrder::kRetryAfterReplies;
  const DispatchOrder done = own_connection ? DispatchOrder::kHoldUntilReplied : DispatchOrder::kGoOn;
  if (!client.authenticated && (route == nullptr || !route->Has(kRouteAllowedBeforeAuth))) {
    // Only what lets a client authenticate (or leave) is allowed before AUTH.
    ctx.replies.Add("-NOAUTH Authentication required.\r\n");
    return done;
  }
  if (spec == nullptr) {
    if (client.transaction.in_multi) client.transaction.aborted = true;
    ctx.replies.Add(UnknownCommandError(argv));
    return done;
  }
  if (spec->IsContainer() && argv.size() > 1) {
    // Resolve() returns the container itself only for an unknown subcommand:
    // any server answers with Redis's own error.
    Forward(ctx, 0, argv, raw);
    return done;
  }
  if (!ArityOk(*spec, argv.size())) {
    if (client.transaction.in_multi) client.transaction.aborted = true;
    ctx.replies.Add("-ERR wrong number of arguments for '" + std::string(spec->name) + "' command\r\n");
    return done;
  }
  if (route->Has(kRouteWrites) && !ctx.worker.server->writes_allowed() && RefuseWrite(ctx, *route)) {
    return done;
  }
  // CLIENT PAUSE (client_pause.h): one relaxed load while none is on.
  if (ctx.worker.server->client_pause()->Active() && ParkIfPaused(ctx, *route)) {
    return DispatchOrder::kWaitForTopology;
  }
  client.last_command = route->command_index;  // CLIENT LIST's cmd
  ctx.worker.recorder->Begin(route->command_index, argv);
  Run(ctx, *route, argv, raw);
  if (client.held) {
    // A key of the request is held by the mover (WaitIfHeld): nothing was
    // sent; it is dispatched again when the worker wakes the client.
    client.held = false;
    ctx.worker.recorder->Withdraw();
    ctx.worker.recorder->End();
    return DispatchOrder::kWaitForTopology;
  }
  ctx.worker.recorder->End();
  client.hold_deadline_ms = 0;
  return done;
}

// The ConfigServer lease ran out (ProxyServer::writes_allowed): a failover
// may be under way that this proxy cannot hear of, so a write could land on
// a master being replaced and be lost. Reads go on. Returns false for an
// EXEC that fails anyway (outside MULTI, or of a transaction already
// aborted: -EXECABORT, as Redis answers).
bool CommandDispatcher::RefuseWrite(RequestContext& ctx, const CommandRoute& route) {
  ClientTransaction& txn = ctx.client.transaction;
  if (route.transaction == TransactionCommand::kExec) {
    if (!txn.in_multi || txn.aborted) return false;
    TransactionCommands::End(ctx);  // EXEC ends the transaction, refused or not
  } else if (txn.in_multi) {
    txn.aborted = true;  // as Redis does for an error while queuing: EXEC answers -EXECABORT
  }
  ctx.replies.Add("-CLUSTERDOWN the proxy has heard from no ConfigServer for " +
                  std::to_string(ctx.worker.server->MsSinceConfigServerAnswer()) +
                  " ms: writes are refused until one answers (reads go on)\r\n");
  return true;
}

void CommandDispatcher::Run(RequestContext& ctx, const CommandRoute& route,
                            std::span<const std::string_view> argv, std::string_view raw) {
  // RESP3 has no subscribed mode: pushes and replies share the connection.
  if (ctx.client.subscriptions.active() && ctx.client.resp == 2 && !route.Has(kRouteAllowedWhileSubscribed)) {
    ctx.replies.Add(
        "-ERR Can't execute '" + std::string(route.spec->name) +
        "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    return;
  }
  if (ctx.client.transaction.in_multi && route.route != Route::kTransaction) {
    transactions_.Queue(ctx, route, argv, raw);
    return;
  }
  switch (route.route) {
    case Route::kSlot:
      return RouteBySlot(ctx, route, argv, raw);
    case Route::kLocal:
      return route.local(ctx, argv);
    case Route::kSplit:
      return Split(ctx, route, argv, raw);
    case Route::kFanOut:
      return FanOut(ctx, route.merge, argv, raw);
    case Route::kScan:
      return Scan(ctx, argv);
    case Route::kInfo:
      return Info(ctx, argv);
    case Route::kAnyShard:
      return Forward(ctx, 0, argv, raw);
    case Route::kRefuse:
      return ctx.replies.Add(RefusalError(*route.spec, route.refusal));
    case Route::kChannel:
      return Forward(ctx, ctx.router().OwnerOfKey(argv[1]), argv, raw);
    case Route::kWait:
      return Wait(ctx, argv, raw);
    case Route::kScriptLoad:
      ctx.worker.server->scripts()->Add(argv[2]);
      return FanOut(ctx, route.merge, argv, raw);
    case Route::kScriptFlush:
      ctx.worker.server->scripts()->Clear();
      return FanOut(ctx, route.merge, argv, raw);
    case Route::kTransaction:
      return transactions_.Run(ctx, route, argv, raw);
    case Route::kSubscribe:
      return Subscribe(ctx, route.subscription, argv);
    case Route::kUnsubscribe:
      return Unsubscribe(ctx, route.subscription, argv);
  }
}

void CommandDispatcher::RouteBySlot(RequestContext& ctx, const CommandRoute& route,
                                    std::span<const std::string_view> argv, std::string_view raw) {
  if (ExtractKeys(*route.spec, argv, &keys_) == KeyExtraction::kMalformed || keys_.empty()) {
    // Malformed: any server answers with Redis's exact error. No keys (EVAL
    // with numkeys 0): any server can run it.
    return Forward(ctx, 0, argv, raw);
  }
  const int common = CommonSlot(argv, keys_);
  if (common < 0) return ctx.replies.Add(kCrossSlotError);
  const uint16_t slot = static_cast<uint16_t>(common);
  const SlotRouter& router = ctx.router();
  const bool blocks = route.Blocks(argv);
  if (router.Migrating(slot)) {
    if (blocks) {
      // It would block on one side while its keys move to the other.
      return ctx.replies.Add(
          "-TRYAGAIN slot " + std::to_string(slot) +
          " is moving to another shard; blocking commands on it wait until it has moved\r\n");
    }
    if (WaitIfHeld(ctx, slot, argv, keys_)) return;
    return migrating_key_.Start(ctx, slot, argv, keys_, raw);
  }
  const int shard = router.OwnerOf(slot);
  if (route.Has(kRouteReplicaReadable) && ctx.worker.options->read_from != ReadFrom::kMaster) {
    BackendConnection* backend = ctx.worker.backends->ForRead(shard, ctx.client.resp);
    if (backend == nullptr) return ctx.replies.Add(NoReplicaError(router, shard));
    AppendRequest(backend->StartRequest(ctx.replies.Open(1), 0), argv, raw);
    return;
  }
  if (blocks) {
    PendingReply* p = ctx.replies.Open(1);
    p->blocks = true;
    AppendRequest(ctx.own.ForShard(shard)->StartRequest(p, 0), argv, raw);
    return;
  }
  Forward(ctx, shard, argv, raw);
}

void CommandDispatcher::Split(RequestContext& ctx, const CommandRoute& route,
                              std::span<const std::string_view> argv, std::string_view raw) {
  const size_t stride = route.split_stride;
  // MSET with an odd count: Redis's own error.
  if ((argv.size() - 1) % stride != 0) return Forward(ctx, 0, argv, raw);
  const SlotRouter& router = ctx.router();
  part_of_shard_.assign(static_cast<size_t>(router.shard_count()), -1);
  part_shard_.clear();
  const size_t key_count = (argv.size() - 1) / stride;
  if (router.Migrating(KeySlot(argv[1]))) {
    // Keys of one migrating slot (a hash tag) move together, then run as one.
    keys_.clear();
    for (size_t k = 0; k < key_count; ++k) keys_.push_back(static_cast<uint32_t>(1 + k * stride));
    if (const int slot = CommonSlot(argv, keys_); slot >= 0) {
      if (WaitIfHeld(ctx, static_cast<uint16_t>(slot), argv, keys_)) return;
      return migrating_key_.Start(ctx, static_cast<uint16_t>(slot), argv, keys_, raw);
    }
  }
  // One part per shard for the keys of slots that are not moving, and one
  // per moving slot (a two-step request: its keys are handed over, then
  // run on the importer).
  part_slot_.clear();
  key_part_.clear();
  for (size_t k = 0; k < key_count; ++k) {
    const uint16_t slot = KeySlot(argv[1 + k * stride]);
    int part = -1;
    if (router.Migrating(slot)) {
      for (size_t i = 0; i < part_shard_.size() && part < 0; ++i) {
        if (part_shard_[i] < 0 && part_slot_[i] == slot) part = static_cast<int>(i);
      }
      if (part < 0) {
        part = static_cast<int>(part_shard_.size());
        part_shard_.push_back(-1);
        part_slot_.push_back(slot);
      }
    } else {
      const int shard = router.OwnerOf(slot);
      if (part_of_shard_[shard] < 0) {
        part_of_shard_[shard] = static_cast<int>(part_shard_.size());
        part_shard_.push_back(shard);
        part_slot_.push_back(0);
      }
      part = part_of_shard_[shard];
    }
    key_part_.push_back(part);
  }
  const size_t parts = part_shard_.size();
  if (part_keys_.size() < parts) part_keys_.resize(parts);
  for (size_t i = 0; i < parts; ++i) part_keys_[i].clear();
  for (size_t k = 0; k < key_count; ++k)
    part_keys_[key_part_[k]].push_back(static_cast<uint32_t>(1 + k * stride));
  for (size_t i = 0; i < parts; ++i) {
    // A held key anywhere holds the whole request back, before any part is sent.
    if (part_shard_[i] < 0 && WaitIfHeld(ctx, part_slot_[i], argv, part_keys_[i])) return;
  }
  const bool read_replicas =
      route.merge == ReplyMerger::Kind::kMgetByPosition && ctx.worker.options->read_from != ReadFrom::kMaster;
  part_backend_.clear();
  for (int shard : part_shard_) {
    if (shard < 0) {
      part_backend_.push_back(nullptr);  // two steps, on masters
      continue;
    }
    part_backend_.push_back(read_replicas ? ctx.worker.backends->ForRead(shard, ctx.client.resp)
                                          : ctx.worker.backends->Master(shard, ctx.client.resp));
    if (part_backend_.back() == nullptr) return ctx.replies.Add(NoReplicaError(router, shard));
  }
  // One part of a slot not moving (one of a moving slot alone is the
  // common-slot case above).
  if (parts == 1 && part_shard_[0] >= 0) {
    AppendRequest(part_backend_[0]->StartRequest(ctx.replies.Open(1), 0), argv, raw);
    return;
  }

  PendingReply* p = ctx.replies.OpenMerged(route.merge, static_cast<uint32_t>(parts));
  ReplyMerger* merger = p->merger.get();
  if (route.merge == ReplyMerger::Kind::kMgetByPosition) {
    // Element k of the reply is element n of its part's, where n counts
    // the keys before it in that part.
    part_fill_.assign(parts, 0);
    for (size_t k = 0; k < key_count; ++k) {
      const int part = key_part_[k];
      merger->positions.emplace_back(static_cast<uint32_t>(part), part_fill_[part]++);
    }
  }
  for (size_t i = 0; i < parts; ++i) {
    if (part_shard_[i] < 0) {
      migrating_key_.StartPart(ctx, p, static_cast<uint32_t>(i), part_slot_[i], argv, part_keys_[i], stride);
      continue;
    }
    Buffer* out = part_backend_[i]->StartRequest(p, static_cast<uint32_t>(i));
    AppendArrayHeader(out, static_cast<int64_t>(1 + part_keys_[i].size() * stride));
    AppendBulk(out, argv[0]);
    for (uint32_t arg : part_keys_[i]) {
      for (size_t s = 0; s < stride; ++s) AppendBulk(out, argv[arg + s]);
    }
  }
}

void CommandDispatcher::FanOut(RequestContext& ctx, ReplyMerger::Kind kind,
                               std::span<const std::string_view> argv, std::string_view raw) {
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(kind, static_cast<uint32_t>(shards));
  for (int i = 0; i < shards; ++i) {
    AppendRequest(ctx.worker.backends->Master(i, ctx.client.resp)->StartRequest(p, static_cast<uint32_t>(i)),
                  argv, raw);
  }
}

// WAIT numreplicas timeout: the client's writes went to any shard over
// shared connections, so each master is asked, on the client's own
// connection, to WAIT for an offset that covers them all: a PUBLISH (which
// redis-server replicates) first moves that connection's write offset to
// the master's current one. The reply is the least count over shards.
void CommandDispatcher::Wait(RequestContext& ctx, std::span<const std::string_view> argv,
                             std::string_view raw) {
  if (!ParseInt64(argv[1])) return ctx.replies.Add("-ERR value is not an integer or out of range\r\n");
  std::optional<int64_t> timeout = ParseInt64(argv[2]);
  if (!timeout) return ctx.replies.Add("-ERR timeout is not an integer or out of range\r\n");
  if (*timeout < 0) return ctx.replies.Add("-ERR timeout is negative\r\n");
  static constexpr std::string_view kMoveWriteOffset =
      "*3\r\n$7\r\nPUBLISH\r\n$16\r\n__redkube__:wait\r\n$0\r\n\r\n";
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(ReplyMerger::Kind::kMinInteger, static_cast<uint32_t>(shards));
  p->blocks = true;
  for (int i = 0; i < shards; ++i) {
    BackendConnection* own = ctx.own.ForShard(i);
    own->StartRequest(ctx.worker.pending_pool->Dropped(1), 0)->Append(kMoveWriteOffset);
    AppendRequest(own->StartRequest(p, static_cast<uint32_t>(i)), argv, raw);
  }
}

// SCAN cursor [MATCH ...] [COUNT ...] [TYPE ...]: one shard's SCAN per
// call, walking the shards in the router's scan order (see ScanCursor for
// what is promised across topology changes).
void CommandDispatcher::Scan(RequestContext& ctx, std::span<const std::string_view> argv) {
  const SlotRouter& router = ctx.router();
  auto cursor = ScanCursor::Parse(argv[1]);
  if (!cursor) return ctx.replies.Add("-ERR invalid cursor\r\n");
  if (!cursor->IsStart() && cursor->tag != router.scan_layout_tag()) {
    // Issued under another layout (slots or masters moved since): its
    // backend cursor means nothing now. Start the walk again.
    *cursor = ScanCursor();
    ctx.worker.stats->scans_restarted.fetch_add(1, std::memory_order_relaxed);
  }
  if (cursor->position >= router.scan_order().size()) return ctx.replies.Add("-ERR invalid cursor\r\n");
  const int shard = router.scan_order()[cursor->position];
  PendingReply* p = ctx.replies.OpenMerged(ReplyMerger::Kind::kScanCursor, 1);
  p->merger->scan_position = cursor->position;
  p->merger->scan_positions = static_cast<uint32_t>(router.scan_order().size());
  p->merger->scan_tag = router.scan_layout_tag();
  Buffer* out = ctx.worker.backends->Master(shard, ctx.client.resp)->StartRequest(p, 0);
  AppendArrayHeader(out, static_cast<int64_t>(argv.size()));
  AppendBulk(out, argv[0]);
  char backend_cursor[24];
  auto end = std::to_chars(backend_cursor, backend_cursor + sizeof(backend_cursor), cursor->backend);
  AppendBulk(out, std::string_view(backend_cursor, static_cast<size_t>(end.ptr - backend_cursor)));
  for (size_t i = 2; i < argv.size(); ++i) AppendBulk(out, argv[i]);
}

}  // namespace redkube::proxy
