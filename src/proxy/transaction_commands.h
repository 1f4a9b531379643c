// MULTI, EXEC, DISCARD, WATCH, UNWATCH, and every command while in MULTI.
// Through the proxy a transaction runs on one shard, as in Redis Cluster:
// every key it (and WATCH) names must hash to one slot. The proxy queues
// the commands itself, answering +QUEUED, and at EXEC writes MULTI, the
// commands and EXEC at once on the client's own connection to that slot's
// shard, which is also where WATCH went; only the EXEC reply reaches the
// client (ClientTransaction holds the state).
//
// A slot in migration: the keys' owner changes under the transaction, and
// a WATCH held on the source would not see writes made on the target, so
// WATCH and EXEC answer -TRYAGAIN until the move ends.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "proxy/request_context.h"
#include "proxy/routing_table.h"

namespace redkube::proxy {

class TransactionCommands {
 public:
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
  void Unwatch(RequestContext& ctx);
  // The one slot of the request's keys: -1 with no keys, -2 if they cross.
  int SlotOfKeys(const CommandSpec& spec, std::span<const std::string_view> argv);

  std::vector<uint32_t> keys_;
};

}  // namespace redkube::proxy
