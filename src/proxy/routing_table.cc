#include "proxy/routing_table.h"

#include <string>
#include <unordered_map>

#include "core/strings.h"
#include "proxy/config_commands.h"

namespace redkube::proxy {
namespace {

using K = ReplyMerger::Kind;

constexpr std::string_view kReplication =
    "replication is managed by redkube's ConfigServer, not through the proxy";
constexpr std::string_view kServerAdmin = "it administers one server; run it on the servers directly";
constexpr std::string_view kOneDatabase = "redkube serves database 0 only";

CommandRoute Make(Route route, K merge = K::kAllOk) {
  CommandRoute r;
  r.route = route;
  r.merge = merge;
  return r;
}

CommandRoute Local(LocalCommand handler, uint16_t flags = 0) {
  CommandRoute r = Make(Route::kLocal);
  r.local = handler;
  r.flags = flags;
  return r;
}

CommandRoute Refuse(std::string_view why) {
  CommandRoute r = Make(Route::kRefuse);
  r.refusal = why;
  return r;
}

CommandRoute Split(K merge, uint8_t stride) {
  CommandRoute r = Make(Route::kSplit, merge);
  r.split_stride = stride;
  return r;
}

CommandRoute Txn(TransactionCommand which) {
  CommandRoute r = Make(Route::kTransaction);
  r.transaction = which;
  return r;
}

CommandRoute Sub(Route route, SubscriptionKind kind) {
  CommandRoute r = Make(route);
  r.subscription = kind;
  r.flags |= kRouteAllowedWhileSubscribed;
  return r;
}

// The proxy's policy, by full command name: the exceptions to "route by
// slot when it has keys, refuse otherwise" and to "answered by the proxy
// when a local handler exists".
const std::unordered_map<std::string_view, CommandRoute>& PolicyByName() {
  static const auto* table = new std::unordered_map<std::string_view, CommandRoute>{
      {"mget", Split(K::kMgetByPosition, 1)},
      {"mset", Split(K::kAllOk, 2)},
      {"del", Split(K::kSumIntegers, 1)},
      {"unlink", Split(K::kSumIntegers, 1)},
      {"exists", Split(K::kSumIntegers, 1)},
      {"touch", Split(K::kSumIntegers, 1)},
      {"dbsize", Make(Route::kFanOut, K::kSumIntegers)},
      {"keys", Make(Route::kFanOut, K::kConcatArrays)},
      {"flushall", Make(Route::kFanOut, K::kAllOk)},
      {"flushdb", Make(Route::kFanOut, K::kAllOk)},
      {"randomkey", Make(Route::kFanOut, K::kRandomNonNil)},
      {"script|load", Make(Route::kScriptLoad, K::kFirstReply)},
      {"script|exists", Make(Route::kFanOut, K::kAndArrays)},
      {"script|flush", Make(Route::kScriptFlush, K::kAllOk)},
      {"function|load", Make(Route::kFanOut, K::kFirstReply)},
      {"function|delete", Make(Route::kFanOut, K::kAllOk)},
      {"function|flush", Make(Route::kFanOut, K::kAllOk)},
      {"function|list", Make(Route::kFanOut, K::kFirstReply)},
      {"scan", Make(Route::kScan, K::kScanCursor)},
      {"publish", Make(Route::kChannel)},
      {"spublish", Make(Route::kChannel)},
      {"pubsub|channels", Make(Route::kFanOut, K::kConcatArrays)},
      {"pubsub|shardchannels", Make(Route::kFanOut, K::kConcatArrays)},
      {"pubsub|numsub", Make(Route::kFanOut, K::kSumPairs)},
      {"pubsub|shardnumsub", Make(Route::kFanOut, K::kSumPairs)},
      {"pubsub|numpat", Make(Route::kAnyShard)},
      {"pubsub|help", Make(Route::kAnyShard)},
      {"info", Make(Route::kInfo, K::kInfo)},
      {"wait", Make(Route::kWait, K::kMinInteger)},
      {"command", Make(Route::kAnyShard)},
      {"command|count", Make(Route::kAnyShard)},
      {"command|info", Make(Route::kAnyShard)},
      {"command|docs", Make(Route::kAnyShard)},
      {"command|list", Make(Route::kAnyShard)},
      {"command|getkeys", Make(Route::kAnyShard)},
      {"command|getkeysandflags", Make(Route::kAnyShard)},
      {"command|help", Make(Route::kAnyShard)},
      {"script|help", Make(Route::kAnyShard)},
      {"function|help", Make(Route::kAnyShard)},
      {"object|help", Make(Route::kAnyShard)},
      {"xinfo|help", Make(Route::kAnyShard)},
      {"xgroup|help", Make(Route::kAnyShard)},
      {"memory|help", Make(Route::kAnyShard)},
      {"lolwut", Make(Route::kAnyShard)},
      {"slowlog|help", Make(Route::kAnyShard)},
      {"multi", Txn(TransactionCommand::kMulti)},
      {"exec", Txn(TransactionCommand::kExec)},
      {"discard", Txn(TransactionCommand::kDiscard)},
      {"watch", Txn(TransactionCommand::kWatch)},
      {"unwatch", Txn(TransactionCommand::kUnwatch)},
      {"subscribe", Sub(Route::kSubscribe, SubscriptionKind::kChannel)},
      {"psubscribe", Sub(Route::kSubscribe, SubscriptionKind::kPattern)},
      {"ssubscribe", Sub(Route::kSubscribe, SubscriptionKind::kShardChannel)},
      {"unsubscribe", Sub(Route::kUnsubscribe, SubscriptionKind::kChannel)},
      {"punsubscribe", Sub(Route::kUnsubscribe, SubscriptionKind::kPattern)},
      {"sunsubscribe", Sub(Route::kUnsubscribe, SubscriptionKind::kShardChannel)},
      {"debug", Refuse("redis-server refuses it too unless enable-debug-command is set; run it on a server")},
      // CONFIG (config_commands.h). SET waits for the ConfigServer; the
      // client's next requests wait for its reply, as own-connection ones do.
      {"config|get", Make(Route::kFanOut, K::kConfigGet)},
      {"config|set", Local(&ConfigSetCommand, kRouteOwnConnection)},
      {"config|resetstat", Local(&ConfigResetStatCommand)},
      {"config|rewrite", Local(&ConfigRewriteCommand)},
      {"config|help", Local(&ConfigHelpCommand)},
      {"sync", Refuse(kReplication)},
      {"psync", Refuse(kReplication)},
      {"replconf", Refuse(kReplication)},
      {"replicaof", Refuse(kReplication)},
      {"slaveof", Refuse(kReplication)},
      {"failover", Refuse(kReplication)},
      {"move", Refuse(kOneDatabase)},
      {"swapdb", Refuse(kOneDatabase)},
      {"migrate", Refuse("redkube migrates slots itself")},
  };
  return *table;
}

// Flags that depend on the name alone.
uint16_t FlagsByName(std::string_view name) {
  static const auto* table = new std::unordered_map<std::string_view, uint16_t>{
      {"watch", kRouteOwnConnection},
      {"wait", kRouteOwnConnection},
      // Answered from every worker thread: ordered like a request on the
      // client's own connection, so that nothing pipelined after a CLIENT
      // KILL of the asker itself runs (as on redis-server).
      {"client|kill", kRouteOwnConnection},
      // What a transaction queues on its shard besides keyed commands.
      {"ping", kRouteQueuedInMulti | kRouteAllowedWhileSubscribed},
      {"echo", kRouteQueuedInMulti},
      {"time", kRouteQueuedInMulti},
      {"unwatch", kRouteQueuedInMulti},
      // What a client may send before AUTH (and to leave). HELLO and RESET
      // may change the client's protocol, and so the server connections its
      // next requests take (a RESP3 client's go to RESP3 twins): ordered
      // like a request on its own connection, they wait for every earlier
      // reply, so that no later request overtakes an earlier one (SET k v;
      // HELLO 3; GET k reads v).
      {"auth", kRouteAllowedBeforeAuth},
      {"hello", kRouteAllowedBeforeAuth | kRouteOwnConnection},
      {"quit", kRouteAllowedBeforeAuth | kRouteAllowedWhileSubscribed},
      {"reset", kRouteAllowedBeforeAuth | kRouteAllowedWhileSubscribed | kRouteOwnConnection},
      // Writes without the write flag: scripts may write (their _RO forms
      // may not), and EXEC runs the writes it queued.
      {"eval", kRouteWrites},
      {"evalsha", kRouteWrites},
      {"fcall", kRouteWrites},
      {"exec", kRouteOwnConnectionInMulti | kRouteWrites},
  };
  auto it = table->find(name);
  return it == table->end() ? 0 : it->second;
}

CommandRoute RouteFor(const CommandSpec& s) {
  const auto& names = PolicyByName();
  CommandRoute r;
  if (auto it = names.find(s.name); it != names.end()) {
    r = it->second;
  } else if (LocalCommand local = FindLocalCommand(s.name)) {
    r.route = Route::kLocal;
    r.local = local;
  } else if (s.key_specs.empty() && !s.Has(kFlagMovableKeys)) {
    r = Refuse(kServerAdmin);
  }
  r.flags |= FlagsByName(s.name);
  if (s.Has(kFlagWrite)) r.flags |= kRouteWrites;
  if (s.Has(kFlagBlocking)) {
    if (s.name == "xread" || s.name == "xreadgroup") {
      // XREADGROUP GROUP <group> <consumer> [COUNT n] [BLOCK ms] ...: the
      // options start after the group and consumer, whose names may be any
      // word ("streams").
      r.flags |= kRouteBlockingWithBlockArg;
      r.block_options_from = s.name == "xreadgroup" ? 4 : 1;
    } else {
      r.flags |= kRouteBlocking;
    }
  }
  if (r.route == Route::kSlot || r.route == Route::kAnyShard || r.route == Route::kSplit) {
    r.flags |= kRouteQueuedInMulti;
  }
  // EVALSHA_RO stays on masters: SCRIPT LOAD reaches masters only, and
  // redis-server does not replicate its script cache.
  if (s.Has(kFlagReadonly) && !s.Has(kFlagBlocking) && s.name != "evalsha_ro")
    r.flags |= kRouteReplicaReadable;
  r.command_index = CommandIndex::Instance().Of(s);
  r.spec = &s;
  return r;
}

}  // namespace

bool CommandRoute::Blocks(std::span<const std::string_view> argv) const {
  if (Has(kRouteBlocking)) return true;
  if (!Has(kRouteBlockingWithBlockArg)) return false;
  // XREAD [COUNT n] [BLOCK ms] STREAMS ...
  for (size_t i = block_options_from; i < argv.size(); ++i) {
    if (EqualsIgnoreCase(argv[i], "streams")) return false;
    if (EqualsIgnoreCase(argv[i], "block")) return true;
    if (EqualsIgnoreCase(argv[i], "count")) ++i;  // its value
  }
  return false;
}

const RoutingTable& RoutingTable::Instance() {
  static const RoutingTable* table = new RoutingTable();
  return *table;
}

RoutingTable::RoutingTable() {
  const auto specs = CommandIndex::Instance().specs();
  routes_.resize(specs.size());
  for (const CommandSpec* s : specs) routes_[CommandIndex::Instance().Of(*s)] = RouteFor(*s);
}

std::string RefusalError(const CommandSpec& spec, std::string_view reason) {
  std::string name(spec.name);
  for (auto& c : name) c = (c == '|') ? ' ' : static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return "-ERR " + name + " is not supported through the redkube proxy: " + std::string(reason) + "\r\n";
}

}  // namespace redkube::proxy
