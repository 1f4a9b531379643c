// How the proxy handles each command: one entry per command and subcommand
// of the generated CommandTable, built once, indexed by CommandIndex. An
// entry says where the request goes (route), how the parts' replies combine
// (merge), which local handler answers it, and the flags the dispatcher
// and the session act on. Commands the proxy has no policy for are routed
// by slot when they have keys, and refused (server-level) otherwise.
// Read-only after construction: safe to share across threads.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/command_stats.h"
#include "proxy/command_table.h"
#include "proxy/local_commands.h"
#include "proxy/reply_merger.h"
#include "proxy/subscription_router.h"

namespace redkube::proxy {

enum class Route : uint8_t {
  kSlot,    // to the shard owning the keys' slot (the default for keyed commands)
  kLocal,   // answered by the proxy (`local`)
  kSplit,   // MGET, MSET, DEL...: split per shard by key, merged by `merge`
  kFanOut,  // every master, merged by `merge`
  kScan,
  kInfo,
  kAnyShard,     // any one master answers for all (COMMAND ...)
  kRefuse,       // an error naming `refusal`
  kChannel,      // PUBLISH, SPUBLISH: the shard owning the channel name's slot
  kWait,         // WAIT: every master, on the client's own connections
  kScriptLoad,   // SCRIPT LOAD: every master, and the proxy's ScriptCache
  kScriptFlush,  // SCRIPT FLUSH: every master, and the proxy's ScriptCache
  kTransaction,  // MULTI, EXEC, DISCARD, WATCH, UNWATCH (`transaction`)
  kSubscribe,    // (P|S)SUBSCRIBE (`subscription`)
  kUnsubscribe,  // (P|S)UNSUBSCRIBE (`subscription`)
};

enum class TransactionCommand : uint8_t { kNone, kMulti, kExec, kDiscard, kWatch, kUnwatch };

enum RouteFlag : uint16_t {
  // Sent on the client's own connection outside MULTI (WATCH, WAIT).
  kRouteOwnConnection = 1u << 0,
  // Sent on the client's own connection inside MULTI (EXEC).
  kRouteOwnConnectionInMulti = 1u << 1,
  // Blocks on the server by design (BLPOP...): the client's own connection.
  kRouteBlocking = 1u << 2,
  // Blocks only when a BLOCK argument comes before STREAMS (XREAD, XREADGROUP).
  kRouteBlockingWithBlockArg = 1u << 3,
  // Allowed in RESP2 subscribed mode.
  kRouteAllowedWhileSubscribed = 1u << 4,
  // Allowed before AUTH.
  kRouteAllowedBeforeAuth = 1u << 5,
  // May be queued inside MULTI: it runs on one shard.
  kRouteQueuedInMulti = 1u << 6,
  // A read that a replica may serve (--read-from).
  kRouteReplicaReadable = 1u << 7,
  // A write (the spec's write flag; EVAL, EVALSHA, FCALL, which may write;
  // EXEC): refused while the proxy's ConfigServer lease has run out.
  kRouteWrites = 1u << 8,
};

struct CommandRoute {
  Route route = Route::kSlot;
  ReplyMerger::Kind merge = ReplyMerger::Kind::kAllOk;
  uint16_t flags = 0;
  uint16_t command_index = 0;      // CommandIndex, for per-command stats
  uint8_t split_stride = 1;        // kSplit: arguments per key (MSET: 2)
  uint8_t block_options_from = 1;  // kRouteBlockingWithBlockArg: where the options start
  TransactionCommand transaction = TransactionCommand::kNone;
  SubscriptionKind subscription = SubscriptionKind::kChannel;
  LocalCommand local = nullptr;
  std::string_view refusal;  // kRefuse: why
  const CommandSpec* spec = nullptr;

  bool Has(RouteFlag f) const { return (flags & f) != 0; }
  // Whether this request blocks on the server (XREAD: only with BLOCK).
  bool Blocks(std::span<const std::string_view> argv) const;
  // Whether it goes on the client's own connection rather than a shared one
  // (inside MULTI, everything but EXEC is queued by the proxy instead).
  bool UsesOwnConnection(std::span<const std::string_view> argv, bool in_multi) const {
    if (in_multi) return Has(kRouteOwnConnectionInMulti);
    return Has(kRouteOwnConnection) || Blocks(argv);
  }
};

class RoutingTable {
 public:
  static const RoutingTable& Instance();

  const CommandRoute& For(const CommandSpec& spec) const {
    return routes_[CommandIndex::Instance().Of(spec)];
  }

 private:
  RoutingTable();
  std::vector<CommandRoute> routes_;  // by CommandIndex
};

// "-ERR NAME is not supported through the redkube proxy: <reason>".
std::string RefusalError(const CommandSpec& spec, std::string_view reason);

}  // namespace redkube::proxy
