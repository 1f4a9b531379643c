// MULTI, EXEC, DISCARD, WATCH, UNWATCH, and every command while in MULTI.
// Through the proxy a transaction runs on one shard, as in Redis Cluster:
// every key it (and WATCH) names must hash to one slot. The proxy queues
// the commands itself, answering +QUEUED, and at EXEC writes MULTI, the
// commands and EXEC at once on the client's own connection to that slot's
// shard, which is also where WATCH went; only the EXEC reply reaches the
// client (ClientTransaction holds the state).
//
// A slot in migration: EXEC hands every key of the transaction over to the
// importing shard (one MIGRATE of them all), then runs the transaction
// there (MigratingKeyStep). WATCH answers -TRYAGAIN (retryable) until the
// move ends: a WATCH held on the source would not see writes made on the
// importer, and the keys' owner changes under it. A transaction watched
// before its slot began moving fails at EXEC as on a conflict (nil). A
// held key (moved in chunks) makes EXEC wait, as any request.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "core/resp_parser.h"
#include "proxy/request_context.h"
#include "proxy/routing_table.h"

namespace redkube::proxy {

class MigratingKeyStep;

class TransactionCommands {
 public:
  // moving: the worker's two-step requests (for EXEC on a migrating slot).
  explicit TransactionCommands(MigratingKeyStep* moving) : moving_(moving) {}

  // One of MULTI, EXEC, DISCARD, WATCH, UNWATCH (route.transaction).
  void Run(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
           std::string_view raw);
  // Any other command inside MULTI: queued, or refused (the transaction
  // then answers EXECABORT).
  void Queue(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
             std::string_view raw);
  // Ends the client's transaction and releases its WATCH (DISCARD, RESET,
  // EXECABORT).
  static void End(RequestContext& ctx);

 private:
  void Watch(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
             std::string_view raw);
  void Exec(RequestContext& ctx);
  void ExecMoving(RequestContext& ctx);
  void Unwatch(RequestContext& ctx);
  // The one slot of the request's keys: -1 with no keys, -2 if they cross.
  int SlotOfKeys(const CommandSpec& spec, std::span<const std::string_view> argv);

  MigratingKeyStep* moving_;
  std::vector<uint32_t> keys_;
  // ExecMoving's scratch: the queued commands parsed again, their keys.
  RequestParser parser_;
  std::vector<std::string_view> key_args_;
  std::vector<uint32_t> key_index_;
};

}  // namespace redkube::proxy
